// Quantized linear weights (weightStorage 'int8' / 'int4'), dequantized as matmul loads W.
// Prepended by src/kernels/matmul.ts to every matmul version: the tile versions read W through
// loadWq (shaders/lib/matmul_operands.wgsl's loadW), 'naive' through quantAt.
// Layout (src/runtime/quant.ts writes it): W [N, K] row-major, each row padded to KW whole u32
// words; element k of a row is byte k % 4 of word k / 4 (QBITS 8: two's complement, -127..127) or
// nibble k % 8 of word k / 8 (QBITS 4: unsigned 0..15, low nibble first). wscale: int8 one f32
// scale per row, w = q · scale; int4 an f32 (scale, offset) pair per row and group of GROUP
// consecutive k (the last group of a row is shorter when K % GROUP != 0), w = q · scale + offset.
// N and K are the including shader's overrides.

override QBITS: u32 = 8u;  // 8 or 4
override KW: u32 = 1u;     // u32 words per row: ceil(K · QBITS / 32)
override GROUP: u32 = 1u;  // k per scale (int4: a multiple of 4; int8: K)
override NG: u32 = 1u;     // groups per row: ceil(K / GROUP)

@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(6) var<storage, read> wscale: array<f32>;

// The integer fields of `word` starting at bit `shift`, QBITS wide: int8 sign-extended, int4 not.
fn fieldsAt(word: u32, shift: u32) -> vec4<f32> {
  if (QBITS == 8u) {
    // Move each byte to the top, then an arithmetic shift back sign-extends it.
    let q = vec4<i32>(bitcast<i32>(word << 24u), bitcast<i32>(word << 16u), bitcast<i32>(word << 8u), bitcast<i32>(word)) >> vec4<u32>(24u);
    return vec4<f32>(q);
  }
  let h = word >> shift;
  return vec4<f32>(vec4<u32>(h, h >> 4u, h >> 8u, h >> 12u) & vec4<u32>(0xfu));
}

// q → w for row `row`, group `g` (per component; the caller keeps a vec4 inside one group).
fn dequant(q: vec4<f32>, row: u32, g: u32) -> vec4<f32> {
  if (QBITS == 8u) { return q * wscale[row]; }
  let i = 2u * (row * NG + g);
  return fma(q, vec4<f32>(wscale[i]), vec4<f32>(wscale[i + 1u]));
}

// Element k of row `row` (row < N, k < K), dequantized.
fn quantAt(row: u32, k: u32) -> f32 {
  let per = 32u / QBITS;
  let word = w[row * KW + k / per];
  let shift = (k % per) * QBITS;
  var q: f32;
  if (QBITS == 8u) { q = f32(bitcast<i32>(word << (24u - shift)) >> 24u); } else { q = f32((word >> shift) & 0xfu); }
  return dequant(vec4<f32>(q), row, k / GROUP).x;
}

// Row `row`, k..k+3 (k % 4 == 0) dequantized; rows ≥ N and k ≥ kEnd read as zero. kEnd is K, or
// the end of a K slice (split-K; a multiple of 4 when K % 4 == 0).
fn loadWq(row: u32, k: u32, kEnd: u32) -> vec4<f32> {
  if (row >= N) { return vec4<f32>(0.0); }
  if (K % 4u == 0u) {
    // The quad is all in or all out, in one word (int8) or one half-word (int4), and in one group.
    if (k >= kEnd) { return vec4<f32>(0.0); }
    let per = 32u / QBITS;
    return dequant(fieldsAt(w[row * KW + k / per], (k % per) * QBITS), row, k / GROUP);
  }
  var v = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (k + c < kEnd) { v[c] = quantAt(row, k + c); }
  }
  return v;
}
