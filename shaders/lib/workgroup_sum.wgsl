// Shared WGSL (shaders/lib, prepended by the kernels that use it; WGSL has no #include): a tree
// reduction over the workgroup. The including shader declares `override WG: u32` (a power of two
// ≤ 256, its workgroup size) and calls workgroup_sum from uniform control flow.

var<workgroup> red: array<f32, 256>;

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
