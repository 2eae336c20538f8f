// Shared WGSL (shaders/lib, prepended by the kernels that use it; WGSL has no #include): the sum of
// one f32 per thread over the workgroup. The including shader declares `override WG: u32` (a power of
// two ≤ 256, its workgroup size) and calls workgroup_sum from uniform control flow.
// Two variants (src/kernels/wgsl-lib.ts resolves them):
// - workgroup (default): a tree reduction in workgroup memory, log2(WG) barriers.
// - SUBGROUPS (needs `enable subgroups;` and the device feature 'subgroups'): subgroupAdd within
//   each subgroup, then lane 0 of each subgroup stores its partial at its own local index (the other
//   slots get 0) and every thread adds the WG slots in index order. Nothing assumes a subgroup size
//   (any 4..128, or one larger than WG) nor how subgroups map onto local indices, and the order of
//   the final sum is fixed, so results are deterministic. The including shader sets `sg_lane` from
//   @builtin(subgroup_invocation_id) at the start of its entry point.

var<workgroup> red: array<f32, 256>;

//#if SUBGROUPS
var<private> sg_lane: u32;

fn workgroup_sum(v: f32, lid: u32) -> f32 {
  let partial = subgroupAdd(v);
  red[lid] = select(0.0, partial, sg_lane == 0u);
  workgroupBarrier();
  var total = 0.0;
  for (var i = 0u; i < WG; i++) { total += red[i]; }
  workgroupBarrier();
  return total;
}
//#else
// Sum of `v` over the workgroup; every thread gets the result. Ends with a barrier, so `red` can be
// reused by the next reduction.
fn workgroup_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}
//#endif
