// Quantized linear weights (weightStorage 'int8' / 'int4'), dequantized as matmul loads W.
// Prepended by src/kernels/matmul.ts to every matmul version that reads W through loadWq.
// Layout (src/runtime/quant.ts writes it): W [N, K] row-major, each row padded to KW whole u32
// words; element k of a row is byte k % 4 of word k / 4 (QBITS 8) or nibble k % 8 of word k / 8
// (QBITS 4, low nibble first), two's-complement signed (int8 -127..127, int4 -7..7). wscale [N, NG]
// f32: one scale per row and group of GROUP consecutive k (int8: GROUP = K, one per row; int4: the
// last group of a row is shorter when K % GROUP != 0). w = q · scale, exactly as the CPU reference.
// N and K are the including shader's overrides.

override QBITS: u32 = 8u;  // 8 or 4
override KW: u32 = 1u;     // u32 words per row: ceil(K · QBITS / 32)
override GROUP: u32 = 1u;  // k per scale (a multiple of 4, or K)
override NG: u32 = 1u;     // scales per row: ceil(K / GROUP)

@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(6) var<storage, read> wscale: array<f32>;

// Element k of row `row` (row < N, k < K) as the signed integer it holds.
fn quantAt(row: u32, k: u32) -> i32 {
  let per = 32u / QBITS;
  let word = w[row * KW + k / per];
  let shift = (k % per) * QBITS;
  // Move the field to the top, then an arithmetic shift back sign-extends it.
  return bitcast<i32>(word << (32u - QBITS - shift)) >> (32u - QBITS);
}

// Row `row`, k..k+3 (k % 4 == 0) dequantized; rows ≥ N and k ≥ K read as zero.
fn loadWq(row: u32, k: u32) -> vec4<f32> {
  if (row >= N) { return vec4<f32>(0.0); }
  if (K % 4u == 0u) {
    // The quad is all in or all out, in one word (int8) or one half-word (int4), and in one group.
    if (k >= K) { return vec4<f32>(0.0); }
    let per = 32u / QBITS;
    let word = w[row * KW + k / per];
    let shift = (k % per) * QBITS;
    let top = 32u - QBITS;
    let q = vec4<i32>(
      bitcast<i32>(word << (top - shift)), bitcast<i32>(word << (top - shift - QBITS)),
      bitcast<i32>(word << (top - shift - 2u * QBITS)), bitcast<i32>(word << (top - shift - 3u * QBITS)),
    ) >> vec4<u32>(top);
    return vec4<f32>(q) * wscale[row * NG + k / GROUP];
  }
  var v = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    let kc = k + c;
    if (kc < K) { v[c] = f32(quantAt(row, kc)) * wscale[row * NG + kc / GROUP]; }
  }
  return v;
}
