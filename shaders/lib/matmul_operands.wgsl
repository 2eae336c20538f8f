// The operands of the matmul kernels (shaders/matmul.wgsl, shaders/matmul_blocked.wgsl; prepended
// by src/kernels/matmul.ts, WGSL has no includes): X [M, K] and W [N, K] row-major (PyTorch Linear
// (out,in) layout: both operands are K-contiguous), their loads and the element types of the
// workgroup tiles. One copy, so every tile version reads X and W the same way.
// Bindings x, w: vec4<f32> when K % 4 == 0 (VEC4: one 16-byte load, one robustness clamp per 4
// values), f32 otherwise. W may instead be packed 16-bit (bf16 or f16, two per u32, element 2i in
// the low half; W_PACKED): vec2<u32> per 4 values when K % 4 == 0, u32 otherwise, widened to f32 on
// load by unpackHalf2 (shaders/lib/unpack_bf16.wgsl or unpack_f16.wgsl, prepended before this).
// W_QUANT: W is packed int8 / int4 with f32 scales, dequantized in loadW (shaders/lib/dequant_w.wgsl).
// f16 compute (precision 'f16', needs shader-f16 and `enable f16;` first): X_F16 reads X as f16
// (vec4<f16> / f16) and keeps the X tile in f16; B_F16 (W stored f16) keeps the W tile in f16 (W is
// still loaded as packed pairs and widened: exact). Products and sums are f32 in every variant.
// loadX / loadW return 4 consecutive k of one row as f32; rows ≥ M (N) and k ≥ kEnd read as zero.
// kEnd is K, or the end of a K slice (split-K); in the VEC4 path k and kEnd are multiples of 4.

override K: u32;

//#if X_F16
//#if VEC4
@group(0) @binding(0) var<storage, read> x: array<vec4<f16>>;

fn loadX(row: u32, k: u32, kEnd: u32) -> vec4<f32> {
  if (row < M && k < kEnd) { return vec4<f32>(x[(row * K + k) / 4u]); }
  return vec4<f32>(0.0);
}
//#else
@group(0) @binding(0) var<storage, read> x: array<f16>;

fn loadX(row: u32, k: u32, kEnd: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (row < M) {
    let o = row * K;
    for (var c = 0u; c < 4u; c++) { if (k + c < kEnd) { v[c] = f32(x[o + k + c]); } }
  }
  return v;
}
//#endif
//#else
//#if VEC4
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;

fn loadX(row: u32, k: u32, kEnd: u32) -> vec4<f32> {
  if (row < M && k < kEnd) { return x[(row * K + k) / 4u]; }
  return vec4<f32>(0.0);
}
//#else
@group(0) @binding(0) var<storage, read> x: array<f32>;

fn loadX(row: u32, k: u32, kEnd: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (row < M) {
    let o = row * K;
    for (var c = 0u; c < 4u; c++) { if (k + c < kEnd) { v[c] = x[o + k + c]; } }
  }
  return v;
}
//#endif
//#endif

//#if W_QUANT
// int8 / int4 W (weightStorage 'int8' / 'int4'): the binding w, the scales (binding 6) and loadWq
// come from shaders/lib/dequant_w.wgsl (prepended); the W tile is f32.
fn loadW(row: u32, k: u32, kEnd: u32) -> vec4<f32> { return loadWq(row, k, kEnd); }
//#elif W_PACKED
//#if VEC4
@group(0) @binding(1) var<storage, read> w: array<vec2<u32>>;

fn loadW(row: u32, k: u32, kEnd: u32) -> vec4<f32> {
  if (row < N && k < kEnd) {
    let p = w[(row * K + k) / 4u];
    return vec4<f32>(unpackHalf2(p.x), unpackHalf2(p.y));
  }
  return vec4<f32>(0.0);
}
//#else
@group(0) @binding(1) var<storage, read> w: array<u32>;

fn loadW(row: u32, k: u32, kEnd: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (row < N) {
    let o = row * K;
    for (var c = 0u; c < 4u; c++) {
      let e = o + k + c;
      if (k + c < kEnd) { v[c] = unpackHalf2(w[e / 2u])[e % 2u]; }
    }
  }
  return v;
}
//#endif
//#else
//#if VEC4
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;

fn loadW(row: u32, k: u32, kEnd: u32) -> vec4<f32> {
  if (row < N && k < kEnd) { return w[(row * K + k) / 4u]; }
  return vec4<f32>(0.0);
}
//#else
@group(0) @binding(1) var<storage, read> w: array<f32>;

fn loadW(row: u32, k: u32, kEnd: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (row < N) {
    let o = row * K;
    for (var c = 0u; c < 4u; c++) { if (k + c < kEnd) { v[c] = w[o + k + c]; } }
  }
  return v;
}
//#endif
//#endif

// Tile element types: f16 where the operand is f16 in memory (X_F16: X; B_F16: W stored f16), so
// the round trip through the tile is exact and the tile takes half the workgroup memory; f32
// otherwise.
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

// Transposing stores of a loaded 4×4 unit into the workgroup tiles, shared by shaders/matmul.wgsl and
// shaders/matmul_blocked.wgsl (each declares As, Bs and their row strides SA, SB): rows 4·q + 0..3
// (p0..p3), k = 4·kq + 0..3, each written as a WHOLE vec4 (never one component: see matmul.wgsl).
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
