// Row softmax over the last dimension: y[r, c] = exp(x[r, c] − max_r) / Σ_c exp(x[r, c] − max_r).
// x, y: [ROWS, C] f32, row-major, any C (no alignment assumed).
// Workgroups: 256 threads = (256/TPR) rows × TPR threads per row (TPR a power of two chosen from C,
// so small rows share a workgroup and long rows get all 256 threads); 2-D grid of workgroups,
// first row = (wg.y·nwg.x + wg.x)·(256/TPR).
// Pass 1: each thread walks its row with stride TPR (coalesced) keeping an online (max, sum) pair:
//   a larger value rescales the sum by exp(old max − new max), so one exp per element and every
//   exponent ≤ 0 (stable for rows with huge values). Pairs are merged by a tree reduction in
//   workgroup memory. Pass 2 re-reads x and writes exp(x − max) / sum. All sums are f32.

override ROWS: u32;
override C: u32;
override TPR: u32; // threads per row: power of two ≤ 256

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

var<workgroup> red_max: array<f32, 256>;
var<workgroup> red_sum: array<f32, 256>;

const NEG_BIG = -3.4028234e38; // finite lowest f32: exp(NEG_BIG − m) = 0 without inf − inf

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32,
//#if SUBGROUPS
        @builtin(subgroup_invocation_id) sg_lane: u32,
//#endif
        ) {
  let lane = lid % TPR;
  let first = lid - lane; // this row's first thread
  let row = (wg.y * nwg.x + wg.x) * (256u / TPR) + lid / TPR;
  let valid = row < ROWS;
  let base = row * C;

  var m = NEG_BIG;
  var l = 0.0;
  if (valid) {
    for (var c = lane; c < C; c += TPR) {
      let v = x[base + c];
      let e = exp(-abs(v - m));
      l = select(l + e, l * e + 1.0, v > m);
      m = max(m, v);
    }
  }
//#if SUBGROUPS
  // One row per workgroup (TPR = 256, an override, so this branch is uniform): merge the pairs of
  // each subgroup with subgroupMax/subgroupAdd; lane 0 stores the subgroup's pair at its own local
  // index (other slots: the empty pair), and every thread merges all 256 slots in index order. No
  // subgroup size or subgroup-to-index mapping is assumed. Rows packed several per workgroup (which
  // a subgroup may straddle) take the workgroup-memory tree below.
  if (TPR == 256u) {
    let sm = subgroupMax(m);
    let sl = subgroupAdd(l * exp(m - sm));
    let lead = sg_lane == 0u;
    red_max[lid] = select(NEG_BIG, sm, lead);
    red_sum[lid] = select(0.0, sl, lead);
    workgroupBarrier();
    var gm = NEG_BIG;
    for (var i = 0u; i < 256u; i++) { gm = max(gm, red_max[i]); }
    var gl = 0.0;
    for (var i = 0u; i < 256u; i++) { gl += red_sum[i] * exp(red_max[i] - gm); }
    let inv_all = 1.0 / gl;
    if (valid) {
      for (var c = lane; c < C; c += TPR) {
        y[base + c] = exp(x[base + c] - gm) * inv_all;
      }
    }
    return;
  }
//#endif
  red_max[lid] = m;
  red_sum[lid] = l;
  workgroupBarrier();
  for (var stride = TPR / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      let m2 = red_max[lid + stride];
      let l2 = red_sum[lid + stride];
      let mm = max(m, m2);
      l = l * exp(m - mm) + l2 * exp(m2 - mm);
      m = mm;
      red_max[lid] = m;
      red_sum[lid] = l;
    }
    workgroupBarrier();
  }
  let row_max = red_max[first];
  let inv = 1.0 / red_sum[first];
  if (valid) {
    for (var c = lane; c < C; c += TPR) {
      y[base + c] = exp(x[base + c] - row_max) * inv;
    }
  }
}
