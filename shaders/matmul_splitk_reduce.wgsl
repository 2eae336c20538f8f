// Second dispatch of the 'splitk' matmul version: Y = epilogue(Σ_s partial[s]) with the S = SPLITS
// K-slice partial sums that shaders/matmul_blocked.wgsl wrote to an f32 scratch [S, M, N]. The
// slices are added in order 0..S−1 (deterministic), then the epilogue of
// shaders/lib/matmul_epilogue.wgsl (bias, GELU, residual + layer scale; Y f32 or f16) is applied,
// prepended by src/kernels/matmul.ts. One thread per output; the 1-D grid of ceil(M·N / 256)
// workgroups is folded into 2-D (grid1D) and recovered as wg.y · nwg.x + wg.x.

override SPLITS: u32;

@group(0) @binding(0) var<storage, read> partial: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * nwg.x + wg.x) * 256u + lid;
  if (i >= M * N) { return; }
  var acc = 0.0;
  for (var s = 0u; s < SPLITS; s++) { acc += partial[s * M * N + i]; }
  y[i] = toY(epilogue(i / N, i % N, acc));
}
