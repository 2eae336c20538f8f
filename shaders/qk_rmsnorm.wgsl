// qk-normalisation for InternViT-6B: qkv rows [q | k | v], each D wide. q and k each get RMSNorm over
// the FULL D vector (all heads together, as the checkpoint's q_norm/k_norm of shape (D,)); v is copied.
//   y[r, 0:D]   = q · rsqrt(mean(q²) + EPS) · q_weight
//   y[r, D:2D]  = k · rsqrt(mean(k²) + EPS) · k_weight
//   y[r, 2D:3D] = v
// Layout: qkv, y row-major [ROWS, 3D] f32; q_weight, k_weight [D] f32.
// Workgroups: (row grid x, row grid y, 3): z picks the block (part 0 q, 1 k, 2 v);
// row = wg.y · nwg.x + wg.x. WG threads (power of two ≤ 256); thread t holds block elements
// t, t + WG, … (VPT ≤ MAXV) in registers.

override D: u32;
override WG: u32 = 256;
override VPT: u32;          // ceil(D / WG) ≤ MAXV
override EPS: f32;
override ROWS: u32;

const MAXV = 64u;

// qkv and y are f16 in the F16 variant (precision 'f16'); the sums of squares are f32 in both.
//#if F16
@group(0) @binding(0) var<storage, read> qkv: array<f16>;
//#else
@group(0) @binding(0) var<storage, read> qkv: array<f32>;
//#endif
@group(0) @binding(1) var<storage, read> q_weight: array<f32>;
@group(0) @binding(2) var<storage, read> k_weight: array<f32>;
//#if F16
@group(0) @binding(3) var<storage, read_write> y: array<f16>;
fn toY(v: f32) -> f16 { return to_f16(v); }
//#else
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
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
  let part = wg.z;
  let base = row * 3u * D + part * D;
  if (part == 2u) {  // v: plain copy; part is uniform per workgroup, so no barrier is skipped unevenly
    for (var c = lid; c < D; c = c + WG) { y[base + c] = qkv[base + c]; }
    return;
  }
  var v: array<f32, MAXV>;
  var q = 0.0;
  for (var i = 0u; i < VPT; i++) {
    let c = lid + i * WG;
    var a = 0.0;
    if (c < D) { a = f32(qkv[base + c]); }
    v[i] = a;
    q += a * a;
  }
  let r = inverseSqrt(workgroup_sum(q, lid) / f32(D) + EPS);
  for (var i = 0u; i < VPT; i++) {
    let c = lid + i * WG;
    if (c < D) {
      let w = select(k_weight[c], q_weight[c], part == 0u);
      y[base + c] = toY(v[i] * r * w);
    }
  }
}
