// Y = epilogue(X·Wᵀ + b), tiled. X [M, K] row-major, W [N, K] row-major (PyTorch Linear (out,in)
// layout: both operands are K-contiguous), b [N], Y [M, N] row-major.
// Epilogue (override-specialised, no runtime branching): EPILOGUE 0 = none, 1 = GELU (exact erf);
// then, with HAS_RESIDUAL, Y = R + scale ⊙ value (R [M, N], scale [N]: InternViT's layer scale).
// Bindings x, w: vec4<f32> when K % 4 == 0 (one 16-byte load, one robustness clamp per 4 values),
// f32 otherwise. W may instead be packed 16-bit (bf16 or f16, two per u32, element 2i in the low
// half; W_PACKED): vec2<u32> per 4 values when K % 4 == 0, u32 otherwise, widened to f32 on load by
// unpackHalf2 (shaders/lib/unpack_bf16.wgsl or unpack_f16.wgsl, prepended by the TS). Half the
// weight bytes; the products and sums stay f32. WGSL cannot retype a binding through an override,
// so src/kernels/matmul.ts resolves the `//#if VEC4` / `//#if W_PACKED` blocks below
// (src/runtime/wgsl-variants.ts); everything else is override constants.
// f16 compute (precision 'f16', needs shader-f16; src/kernels/matmul.ts prepends `enable f16;`):
// X_F16 reads X as f16 (vec4<f16> / f16) and keeps the X tile in f16; B_F16 (W stored f16) keeps
// the W tile in f16 (W is still loaded as packed pairs and widened: exact); Y_F16 stores Y as f16
// through to_f16 (shaders/lib/to_f16.wgsl: an overflow becomes ±inf, never a clamped value). Products,
// sums, bias, GELU and the residual epilogue are f32 in every variant: f16 operands, f32 accumulation.
// W_QUANT (weightStorage int8 / int4): W is packed integers with f32 scales, dequantized in loadW by
// shaders/lib/dequant_w.wgsl (prepended; it declares w and wscale); the W tile is f32.
// bias, r, scale: f32. When HAS_BIAS / HAS_RESIDUAL is false the TS binds x in their place
// (read-only aliasing is legal) and the branch that reads them is removed at pipeline creation.
//
// Workgroup: 256 threads (16 × 16) compute a 64 (M) × 128 (N) tile of Y; each thread a 4 × 8 block
// (rows ty·4 + i, columns tx·4 + j and 64 + tx·4 + j, so a warp's B reads are 256 contiguous bytes).
// K advances in tiles of 16. Each tile of X (64×16) and W (128×16) is loaded as vec4 along K, then
// stored TRANSPOSED into workgroup memory (As[k][m], Bs[k][n]) so the inner loop is an outer product:
// per k one vec4 of A and two of B feed 32 FMAs. Loaders (threads 0..63 for X, 64..191 for W) each
// load a block of 4 rows × 4 k (four vec4) and store it as four WHOLE vec4 of the transposed tile
// (4 rows at one k): WGSL lets a write to one vector component access the whole vector (Tint's HLSL
// backend does a read-modify-write), so invocations must never write different components of one
// vec4 concurrently. A warp covers 16 row quads × 2 vec4 columns: global reads fill whole 32-byte
// sectors and each quarter-warp's 16-byte stores hit 8 consecutive vec4 (no bank conflicts).
// Row strides 68 / 132 floats; workgroup memory 16·68·4 + 16·132·4 = 12.5 KiB (< 16 KiB default
// limit; half of a tile's bytes when it is f16). The next K tile's global loads are issued before the current tile's FMAs (register
// prefetch) to hide global latency.
// Dispatch: (ceil(N / BN), ceil(M / 64)). Rows ≥ M, columns ≥ N and k ≥ K load as zero; stores
// are bounds-checked, so any M, N, K works.
// BN = 64 (override; the 'tiled64' version): the same kernel with only the first column group: W is
// loaded by threads 64..127 and each thread keeps a 4 × 4 block. Half the work per workgroup, twice
// the workgroups: for grids that would not fill the GPU (N = 1024 at M = 1025 is 136 workgroups of
// 64×128). The BN == 128 branches are removed at pipeline creation.
// gelu comes from shaders/lib/gelu_erf.wgsl, prepended by src/kernels/matmul.ts.

override M: u32;
override N: u32;
override K: u32;
override HAS_BIAS: bool = false;
override EPILOGUE: u32 = 0u;
override HAS_RESIDUAL: bool = false;

const BM: u32 = 64u;
override BN: u32 = 128u; // 128, or 64 ('tiled64': twice the workgroups for the same N; see the header)
const BK: u32 = 16u;
const SA: u32 = 17u; // As row stride in vec4 (68 floats)
const SB: u32 = 33u; // Bs row stride in vec4 (132 floats)

//#if X_F16
//#if VEC4
@group(0) @binding(0) var<storage, read> x: array<vec4<f16>>;

// 4 consecutive k of row `row` (k % 4 == 0, K % 4 == 0: all in or all out), widened to f32 (exact).
fn loadX(row: u32, k: u32) -> vec4<f32> {
  if (row < M && k < K) { return vec4<f32>(x[(row * K + k) / 4u]); }
  return vec4<f32>(0.0);
}
//#else
@group(0) @binding(0) var<storage, read> x: array<f16>;

fn loadX(row: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (row < M) {
    let o = row * K;
    for (var c = 0u; c < 4u; c++) { if (k + c < K) { v[c] = f32(x[o + k + c]); } }
  }
  return v;
}
//#endif
//#else
//#if VEC4
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;

// 4 consecutive k of row `row` (k % 4 == 0, K % 4 == 0: all in or all out).
fn loadX(row: u32, k: u32) -> vec4<f32> {
  if (row < M && k < K) { return x[(row * K + k) / 4u]; }
  return vec4<f32>(0.0);
}
//#else
@group(0) @binding(0) var<storage, read> x: array<f32>;

fn loadX(row: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (row < M) {
    let o = row * K;
    for (var c = 0u; c < 4u; c++) { if (k + c < K) { v[c] = x[o + k + c]; } }
  }
  return v;
}
//#endif
//#endif

//#if W_QUANT
// int8 / int4 W: the binding, the scales (binding 6) and loadWq come from shaders/lib/dequant_w.wgsl.
fn loadW(row: u32, k: u32) -> vec4<f32> { return loadWq(row, k); }
//#elif W_PACKED
//#if VEC4
@group(0) @binding(1) var<storage, read> w: array<vec2<u32>>;

fn loadW(row: u32, k: u32) -> vec4<f32> {
  if (row < N && k < K) {
    let p = w[(row * K + k) / 4u];
    return vec4<f32>(unpackHalf2(p.x), unpackHalf2(p.y));
  }
  return vec4<f32>(0.0);
}
//#else
@group(0) @binding(1) var<storage, read> w: array<u32>;

fn loadW(row: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (row < N) {
    let o = row * K;
    for (var c = 0u; c < 4u; c++) {
      let e = o + k + c;
      if (k + c < K) { v[c] = unpackHalf2(w[e / 2u])[e % 2u]; }
    }
  }
  return v;
}
//#endif
//#else
//#if VEC4
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;

fn loadW(row: u32, k: u32) -> vec4<f32> {
  if (row < N && k < K) { return w[(row * K + k) / 4u]; }
  return vec4<f32>(0.0);
}
//#else
@group(0) @binding(1) var<storage, read> w: array<f32>;

fn loadW(row: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (row < N) {
    let o = row * K;
    for (var c = 0u; c < 4u; c++) { if (k + c < K) { v[c] = w[o + k + c]; } }
  }
  return v;
}
//#endif
//#endif

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

// Tile element types: f16 where the operand is f16 in memory (X_F16: X; B_F16: W stored f16), so
// the round trip through the tile is exact and the tile takes half the workgroup memory; f32
// otherwise. Products and sums are f32 in every variant.
//#if X_F16
alias AT = vec4<f16>;
//#else
alias AT = vec4<f32>;
//#endif
//#if B_F16
alias BT = vec4<f16>;
//#else
alias BT = vec4<f32>;
//#endif
var<workgroup> As: array<AT, 272>; // [BK][SA] vec4: As[k][m] = X[m0 + m][k0 + k]
var<workgroup> Bs: array<BT, 528>; // [BK][SB] vec4: Bs[k][n] = W[n0 + n][k0 + k]

fn epilogue(m: u32, n: u32, acc: f32) -> f32 {
  var v = acc;
  if (HAS_BIAS) { v += bias[n]; }
  if (EPILOGUE == 1u) { v = gelu(v); }
  if (HAS_RESIDUAL) { v = r[m * N + n] + scale[n] * v; }
  return v;
}

// Row `row`, k..k+3 of the matrix thread `lid` loads: X (0..63), W (64..64 + BN - 1), none (the rest).
fn loadFor(lid: u32, row: u32, k: u32) -> vec4<f32> {
  if (lid < 64u) { return loadX(row, k); }
  if (lid < 64u + BN) { return loadW(row, k); }
  return vec4<f32>(0.0);
}

// Transposing store of a loaded block: rows 4·q + 0..3 (p0..p3), k = 4·kq + 0..3, as whole vec4.
fn storeA(q: u32, kq: u32, p0: vec4<f32>, p1: vec4<f32>, p2: vec4<f32>, p3: vec4<f32>) {
  let i = kq * 4u * SA + q;
  As[i] = AT(vec4<f32>(p0.x, p1.x, p2.x, p3.x));
  As[i + SA] = AT(vec4<f32>(p0.y, p1.y, p2.y, p3.y));
  As[i + 2u * SA] = AT(vec4<f32>(p0.z, p1.z, p2.z, p3.z));
  As[i + 3u * SA] = AT(vec4<f32>(p0.w, p1.w, p2.w, p3.w));
}
fn storeB(q: u32, kq: u32, p0: vec4<f32>, p1: vec4<f32>, p2: vec4<f32>, p3: vec4<f32>) {
  let i = kq * 4u * SB + q;
  Bs[i] = BT(vec4<f32>(p0.x, p1.x, p2.x, p3.x));
  Bs[i + SB] = BT(vec4<f32>(p0.y, p1.y, p2.y, p3.y));
  Bs[i + 2u * SB] = BT(vec4<f32>(p0.z, p1.z, p2.z, p3.z));
  Bs[i + 3u * SB] = BT(vec4<f32>(p0.w, p1.w, p2.w, p3.w));
}

// One row of a thread's block: columns nA..nA+3 (ga) and nA+64..nA+67 (gb).
fn storeRow(m: u32, nA: u32, ga: vec4<f32>, gb: vec4<f32>) {
  if (m >= M) { return; }
  for (var j = 0u; j < 4u; j++) {
    let na = nA + j;
    if (na < N) { y[m * N + na] = toY(epilogue(m, na, ga[j])); }
    let nb = nA + 64u + j;
    if (BN == 128u && nb < N) { y[m * N + nb] = toY(epilogue(m, nb, gb[j])); }
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n0 = wg.x * BN;
  let m0 = wg.y * BM;
  let tx = lid % 16u;
  let ty = lid / 16u;

  // Load mapping: unit u within its matrix (X: 0..63, W: 0..127) loads row quad lq (rows 4·lq..+3)
  // at vec4 column lkq: lq = lane % 16 + 16 · (u / 64), lkq = lane / 16 + 2 · ((u / 32) % 2).
  let u = select(lid - 64u, lid, lid < 64u);
  let lane = u % 32u;
  let lq = lane % 16u + 16u * (u / 64u);
  let lkq = lane / 16u + 2u * ((u / 32u) % 2u);
  let row0 = select(n0, m0, lid < 64u) + 4u * lq;

  var c0 = vec4<f32>(0.0); var c1 = vec4<f32>(0.0); // row i = 0: columns group 0, group 1
  var c2 = vec4<f32>(0.0); var c3 = vec4<f32>(0.0); // row 1
  var c4 = vec4<f32>(0.0); var c5 = vec4<f32>(0.0); // row 2
  var c6 = vec4<f32>(0.0); var c7 = vec4<f32>(0.0); // row 3

  var p0 = loadFor(lid, row0, lkq * 4u);
  var p1 = loadFor(lid, row0 + 1u, lkq * 4u);
  var p2 = loadFor(lid, row0 + 2u, lkq * 4u);
  var p3 = loadFor(lid, row0 + 3u, lkq * 4u);

  let tiles = (K + BK - 1u) / BK;
  for (var t = 0u; t < tiles; t++) {
    if (lid < 64u) {
      storeA(lq, lkq, p0, p1, p2, p3);
    } else if (lid < 64u + BN) {
      storeB(lq, lkq, p0, p1, p2, p3);
    }
    workgroupBarrier();
    // Prefetch the next tile while this one is multiplied (past the end: loads return zero).
    let k1 = (t + 1u) * BK + lkq * 4u;
    p0 = loadFor(lid, row0, k1);
    p1 = loadFor(lid, row0 + 1u, k1);
    p2 = loadFor(lid, row0 + 2u, k1);
    p3 = loadFor(lid, row0 + 3u, k1);
    for (var kk = 0u; kk < BK; kk++) {
      let a = vec4<f32>(As[kk * SA + ty]);
      let b0 = vec4<f32>(Bs[kk * SB + tx]);
      c0 += a.x * b0;
      c2 += a.y * b0;
      c4 += a.z * b0;
      c6 += a.w * b0;
      if (BN == 128u) {
        let b1 = vec4<f32>(Bs[kk * SB + 16u + tx]);
        c1 += a.x * b1;
        c3 += a.y * b1;
        c5 += a.z * b1;
        c7 += a.w * b1;
      }
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
