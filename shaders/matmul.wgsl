// Y = epilogue(X·Wᵀ + b), tiled. X [M, K] row-major, W [N, K] row-major (PyTorch Linear (out,in)
// layout: both operands are K-contiguous), b [N], Y [M, N] row-major.
// Epilogue (override-specialised, no runtime branching): EPILOGUE 0 = none, 1 = GELU (exact erf);
// then, with HAS_RESIDUAL, Y = R + scale ⊙ value (R [M, N], scale [N]: InternViT's layer scale).
// Bindings x, w: vec4<f32> when K % 4 == 0 (one 16-byte load, one robustness clamp per 4 values),
// f32 otherwise. WGSL cannot retype a binding through an override, so src/kernels/matmul.ts keeps
// one of the two `#if VEC4 … #else … #endif` blocks below; everything else is override constants.
// bias, r, scale: f32. When HAS_BIAS / HAS_RESIDUAL is false the TS binds w in their place
// (read-only aliasing is legal) and the branch that reads them is removed at pipeline creation.
//
// Workgroup: 256 threads (16 × 16) compute a 64 (M) × 128 (N) tile of Y; each thread a 4 × 8 block
// (rows ty·4 + i, columns tx·4 + j and 64 + tx·4 + j, so a warp's B reads are 256 contiguous bytes).
// K advances in tiles of 16. Each tile of X (64×16) and W (128×16) is loaded as vec4 along K, then
// stored TRANSPOSED into workgroup memory (As[k][m], Bs[k][n]) so the inner loop is an outer product:
// per k one vec4 of A and two of B feed 32 FMAs. Row strides 68 / 132 floats (≡ 4 mod 32 banks)
// with the load mapping below (a warp covers 16 rows × 2 vec4 columns) make the transposing
// scalar stores bank-conflict free and keep global reads in whole 32-byte sectors. Workgroup memory:
// 16·68·4 + 16·132·4 = 12.5 KiB (< 16 KiB default limit). The next K tile's global loads are issued
// before the current tile's FMAs (register prefetch) to hide global latency.
// Dispatch: (ceil(N / 128), ceil(M / 64)). Rows ≥ M, columns ≥ N and k ≥ K load as zero; stores
// are bounds-checked, so any M, N, K works.
// gelu comes from shaders/lib/gelu_erf.wgsl, prepended by src/kernels/matmul.ts.

override M: u32;
override N: u32;
override K: u32;
override HAS_BIAS: bool = false;
override EPILOGUE: u32 = 0u;
override HAS_RESIDUAL: bool = false;

const BM: u32 = 64u;
const BN: u32 = 128u;
const BK: u32 = 16u;
const SA: u32 = 17u; // As row stride in vec4 (68 floats)
const SB: u32 = 33u; // Bs row stride in vec4 (132 floats)

//#if VEC4
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;

// 4 consecutive k of row `row` (k % 4 == 0, K % 4 == 0: all in or all out).
fn loadX(row: u32, k: u32) -> vec4<f32> {
  if (row < M && k < K) { return x[(row * K + k) / 4u]; }
  return vec4<f32>(0.0);
}
fn loadW(row: u32, k: u32) -> vec4<f32> {
  if (row < N && k < K) { return w[(row * K + k) / 4u]; }
  return vec4<f32>(0.0);
}
//#else
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;

fn loadX(row: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (row < M) {
    let o = row * K;
    for (var c = 0u; c < 4u; c++) { if (k + c < K) { v[c] = x[o + k + c]; } }
  }
  return v;
}
fn loadW(row: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (row < N) {
    let o = row * K;
    for (var c = 0u; c < 4u; c++) { if (k + c < K) { v[c] = w[o + k + c]; } }
  }
  return v;
}
//#endif

@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> r: array<f32>;
@group(0) @binding(4) var<storage, read> scale: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

var<workgroup> As: array<vec4<f32>, 272>; // [BK][SA] vec4: As[k][m] = X[m0 + m][k0 + k]
var<workgroup> Bs: array<vec4<f32>, 528>; // [BK][SB] vec4: Bs[k][n] = W[n0 + n][k0 + k]

fn epilogue(m: u32, n: u32, acc: f32) -> f32 {
  var v = acc;
  if (HAS_BIAS) { v += bias[n]; }
  if (EPILOGUE == 1u) { v = gelu(v); }
  if (HAS_RESIDUAL) { v = r[m * N + n] + scale[n] * v; }
  return v;
}

// Transposing store of 4 consecutive k (kq-th vec4 of the tile) for tile row `row`.
fn storeA(row: u32, kq: u32, v: vec4<f32>) {
  let i = kq * 4u * SA + row / 4u;
  let c = row % 4u;
  As[i][c] = v.x;
  As[i + SA][c] = v.y;
  As[i + 2u * SA][c] = v.z;
  As[i + 3u * SA][c] = v.w;
}
fn storeB(row: u32, kq: u32, v: vec4<f32>) {
  let i = kq * 4u * SB + row / 4u;
  let c = row % 4u;
  Bs[i][c] = v.x;
  Bs[i + SB][c] = v.y;
  Bs[i + 2u * SB][c] = v.z;
  Bs[i + 3u * SB][c] = v.w;
}

// One row of a thread's block: columns nA..nA+3 (ga) and nA+64..nA+67 (gb).
fn storeRow(m: u32, nA: u32, ga: vec4<f32>, gb: vec4<f32>) {
  if (m >= M) { return; }
  for (var j = 0u; j < 4u; j++) {
    let na = nA + j;
    if (na < N) { y[m * N + na] = epilogue(m, na, ga[j]); }
    let nb = nA + 64u + j;
    if (nb < N) { y[m * N + nb] = epilogue(m, nb, gb[j]); }
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n0 = wg.x * BN;
  let m0 = wg.y * BM;
  let tx = lid % 16u;
  let ty = lid / 16u;

  // Load mapping: slot s (0..255 for X, 0..511 for W); lane = s % 32, warp = s / 32.
  // Row = lane % 16 + 16 · (warp % rowsOf16), kq = lane / 16 + 2 · (warp / rowsOf16).
  let lane = lid % 32u;
  let warp = lid / 32u;
  let aRow = lane % 16u + 16u * (warp % 4u);
  let aKq = lane / 16u + 2u * (warp / 4u);
  let bRow0 = lane % 16u + 16u * (warp % 8u);
  let bKq0 = lane / 16u + 2u * (warp / 8u);          // slots 0..255: kq 0..1
  let bKq1 = bKq0 + 2u;                              // slots 256..511: kq 2..3

  var c0 = vec4<f32>(0.0); var c1 = vec4<f32>(0.0); // row i = 0: columns group 0, group 1
  var c2 = vec4<f32>(0.0); var c3 = vec4<f32>(0.0); // row 1
  var c4 = vec4<f32>(0.0); var c5 = vec4<f32>(0.0); // row 2
  var c6 = vec4<f32>(0.0); var c7 = vec4<f32>(0.0); // row 3

  var pa = loadX(m0 + aRow, aKq * 4u);
  var pb0 = loadW(n0 + bRow0, bKq0 * 4u);
  var pb1 = loadW(n0 + bRow0, bKq1 * 4u);

  let tiles = (K + BK - 1u) / BK;
  for (var t = 0u; t < tiles; t++) {
    storeA(aRow, aKq, pa);
    storeB(bRow0, bKq0, pb0);
    storeB(bRow0, bKq1, pb1);
    workgroupBarrier();
    // Prefetch the next tile while this one is multiplied (past the end: loads return zero).
    let k1 = (t + 1u) * BK;
    pa = loadX(m0 + aRow, k1 + aKq * 4u);
    pb0 = loadW(n0 + bRow0, k1 + bKq0 * 4u);
    pb1 = loadW(n0 + bRow0, k1 + bKq1 * 4u);
    for (var kk = 0u; kk < BK; kk++) {
      let a = As[kk * SA + ty];
      let b0 = Bs[kk * SB + tx];
      let b1 = Bs[kk * SB + 16u + tx];
      c0 += a.x * b0; c1 += a.x * b1;
      c2 += a.y * b0; c3 += a.y * b1;
      c4 += a.z * b0; c5 += a.z * b1;
      c6 += a.w * b0; c7 += a.w * b1;
    }
    workgroupBarrier();
  }

  let mBase = m0 + ty * 4u;
  let nA = n0 + tx * 4u;
  storeRow(mBase, nA, c0, c1);
  storeRow(mBase + 1u, nA, c2, c3);
  storeRow(mBase + 2u, nA, c4, c5);
  storeRow(mBase + 3u, nA, c6, c7);
}
