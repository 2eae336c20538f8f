// The output side of the matmul kernels (shaders/matmul*.wgsl; prepended by src/kernels/matmul.ts,
// after shaders/lib/gelu_erf.wgsl): Y [M, N] row-major = epilogue(acc), where acc is a sum of
// X·Wᵀ products. Epilogue (override-specialised, no runtime branching): + b [N] (HAS_BIAS), then
// EPILOGUE 0 = none, 1 = GELU (exact erf), then with HAS_RESIDUAL Y = R + scale ⊙ value (R [M, N],
// scale [N]: InternViT's layer scale). bias, r, scale are f32; when HAS_BIAS / HAS_RESIDUAL is false
// the TS binds a read-only stand-in there and the branch that reads them is removed at pipeline
// creation. Y_F16 stores Y as f16 through to_f16 (shaders/lib/to_f16.wgsl: an overflow becomes ±inf,
// never a clamped value); bias, GELU and the residual are f32 either way.

override M: u32;
override N: u32;
override HAS_BIAS: bool = false;
override EPILOGUE: u32 = 0u;
override HAS_RESIDUAL: bool = false;

@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> r: array<f32>;
@group(0) @binding(4) var<storage, read> scale: array<f32>;
//#if Y_F16
@group(0) @binding(5) var<storage, read_write> y: array<f16>;
fn toY(v: f32) -> f16 { return to_f16(v); }
//#else
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
fn toY(v: f32) -> f32 { return v; }
//#endif

fn epilogue(m: u32, n: u32, acc: f32) -> f32 {
  var v = acc;
  if (HAS_BIAS) { v += bias[n]; }
  if (EPILOGUE == 1u) { v = gelu(v); }
  if (HAS_RESIDUAL) { v = r[m * N + n] + scale[n] * v; }
  return v;
}
