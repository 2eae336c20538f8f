// Y = epilogue(X·Wᵀ + b), v1: one output per thread, no workgroup memory. The simple reference
// version kept beside shaders/matmul.wgsl (llm.c dev/cuda style) and validated by the same checks.
// Layout: x [M, K], w [N, K] (PyTorch (out,in)), bias [N], r [M, N], scale [N], y [M, N]; row-major,
// all f32 except w when W_PACKED: 16-bit pairs in u32, widened by unpackHalf2 (see matmul.wgsl),
// or W_QUANT: int8 / int4 with scales (shaders/lib/dequant_w.wgsl).
// Epilogue as in matmul.wgsl: + bias (HAS_BIAS), GELU exact erf (EPILOGUE = 1), then
// R + scale ⊙ value (HAS_RESIDUAL). Unused bindings are bound to x by src/kernels/matmul.ts.
// Workgroup: 16 × 16 threads; x → column n, y → row m. Dispatch (ceil(N / 16), ceil(M / 16)).
// gelu comes from shaders/lib/gelu_erf.wgsl, prepended by src/kernels/matmul.ts.

override M: u32;
override N: u32;
override K: u32;
override HAS_BIAS: bool = false;
override EPILOGUE: u32 = 0u;
override HAS_RESIDUAL: bool = false;

@group(0) @binding(0) var<storage, read> x: array<f32>;
//#if W_QUANT
// int8 / int4 W (binding, scales, quantAt): shaders/lib/dequant_w.wgsl, prepended.
fn wAt(n: u32, k: u32) -> f32 { return quantAt(n, k); }
//#elif W_PACKED
@group(0) @binding(1) var<storage, read> w: array<u32>;
fn wAt(n: u32, k: u32) -> f32 { let e = n * K + k; return unpackHalf2(w[e / 2u])[e % 2u]; }
//#else
@group(0) @binding(1) var<storage, read> w: array<f32>;
fn wAt(n: u32, k: u32) -> f32 { return w[n * K + k]; }
//#endif
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> r: array<f32>;
@group(0) @binding(4) var<storage, read> scale: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let m = gid.y;
  if (m >= M || n >= N) { return; }
  var acc = 0.0;
  for (var k = 0u; k < K; k++) {
    acc += x[m * K + k] * wAt(n, k);
  }
  if (HAS_BIAS) { acc += bias[n]; }
  if (EPILOGUE == 1u) { acc = gelu(acc); }
  if (HAS_RESIDUAL) { acc = r[m * N + n] + scale[n] * acc; }
  y[m * N + n] = acc;
}
