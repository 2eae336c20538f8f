// GELU, exact erf form: y = 0.5 · x · (1 + erf(x / √2)), elementwise over COUNT f32 values.
// Layout: x, y flat f32 arrays. The model fuses GELU into the fc1 matmul epilogue; this standalone
// kernel serves other graphs and tests the shared erf.
// Workgroups: 256 threads, one element each; the grid is 2-D so large tensors stay under the
// 65535-workgroups-per-dimension limit: index = (wg.y · nwg.x + wg.x) · 256 + lid.
// erf_f32 and gelu come from shaders/lib/gelu_erf.wgsl, prepended by src/kernels/gelu.ts.

override COUNT: u32;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * nwg.x + wg.x) * 256u + lid;
  if (i >= COUNT) { return; }
  y[i] = gelu(x[i]);
}
