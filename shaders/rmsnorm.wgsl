// RMSNorm over the last dim: y = x · rsqrt(mean(x²) + EPS) · weight, all in f32 (InternRMSNorm).
// Layout: x, y row-major [ROWS, C] f32; weight [C] f32.
// Workgroups: one per row (2-D grid: row = wg.y · nwg.x + wg.x, tail skipped), WG threads (power of
// two ≤ 256). Thread t holds elements t, t + WG, … (VPT ≤ MAXV) in registers: one coalesced read of the
// row, a workgroup tree reduction of Σx², one write.

override C: u32;
override WG: u32 = 256;
override VPT: u32;          // ceil(C / WG) ≤ MAXV
override EPS: f32;
override ROWS: u32;

const MAXV = 64u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
// y is f16 in the Y_F16 variant (precision 'f16': the normed activations feed an f16 matmul);
// statistics are f32 in both. to_f16 (shaders/lib/to_f16.wgsl) turns an overflow into ±inf.
//#if Y_F16
@group(0) @binding(2) var<storage, read_write> y: array<f16>;
fn toY(v: f32) -> f16 { return to_f16(v); }
//#else
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
fn toY(v: f32) -> f32 { return v; }
//#endif

// workgroup_sum comes from shaders/lib/workgroup_sum.wgsl, prepended by src/kernels/rmsnorm.ts.

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32,
//#if SUBGROUPS
        @builtin(subgroup_invocation_id) sg_id: u32,
//#endif
        ) {
//#if SUBGROUPS
  sg_lane = sg_id;  // read by workgroup_sum (shaders/lib/workgroup_sum.wgsl, SUBGROUPS variant)
//#endif
  let row = wg.y * nwg.x + wg.x;
  if (row >= ROWS) { return; }  // uniform per workgroup
  let base = row * C;
  var v: array<f32, MAXV>;
  var q = 0.0;
  for (var i = 0u; i < VPT; i++) {
    let c = lid + i * WG;
    var a = 0.0;
    if (c < C) { a = x[base + c]; }
    v[i] = a;
    q += a * a;
  }
  let r = inverseSqrt(workgroup_sum(q, lid) / f32(C) + EPS);
  for (var i = 0u; i < VPT; i++) {
    let c = lid + i * WG;
    if (c < C) { y[base + c] = toY(v[i] * r * weight[c]); }
  }
}
