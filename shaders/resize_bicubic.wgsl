// One pass of Pillow's bicubic resize, bit-exact on 8-bit RGB: VERTICAL = false is
// ImagingResampleHorizontal_8bpc, VERTICAL = true ImagingResampleVertical_8bpc (an override: each
// pass is its own pipeline, no runtime branch).
//   horizontal: dst[y, x] = clip8(2^21 + Σ_k src[SRC_Y0 + y, SRC_X0 + first(x) + k] · coeff(x, k))
//   vertical:   dst[y, x] = clip8(2^21 + Σ_k src[SRC_Y0 + first(y) + k, SRC_X0 + x] · coeff(y, k))
// per channel, where coeff is Pillow's Q22 fixed-point weight (computed on the CPU in float64,
// src/kernels/resize.ts) and clip8(s) = clamp(s >> 22, 0, 255) (arithmetic shift, like Pillow's
// lookup table). Overflow: weights are normalised to sum 2^22, and the positive lobe of the a = −0.5
// cubic sums to < 1.2, so |acc| < 255 · 1.2 · 2^22 + 2^21 < 2^31 for any tap count (Pillow uses the
// same int32).
//
// Layout (pixels are RGBA8 packed in one u32, R in the low byte, as canvas ImageData bytes read
// little-endian; alpha is ignored and written as 255):
//   src   array<u32>  a source image with rows of SRC_STRIDE pixels, read from (SRC_X0, SRC_Y0) on
//   table array<i32>  one entry per output index along the resized axis (OUT_W entries horizontally,
//                     OUT_H vertically) of 2 + TAPS: first, count, then TAPS Q22 weights (zero past count)
//   dst   array<u32>  OUT_H × OUT_W
// Workgroups: 64×4 threads, one output pixel each, x along the row: horizontally the reads of
// neighbouring threads overlap in cache, vertically they are consecutive words of the same source
// rows and share the row's table entry; writes coalesce. The tap loop is bounded by the table's count.

override VERTICAL: bool;
override SRC_STRIDE: u32;
override SRC_X0: u32;
override SRC_Y0: u32;
override OUT_W: u32;
override OUT_H: u32;
override TAPS: u32;

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<i32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

fn clip8(acc: i32) -> u32 {
  return u32(clamp(acc >> 22u, 0, 255));
}

@compute @workgroup_size(64, 4)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let x = gid.x;
  let y = gid.y;
  if (x >= OUT_W || y >= OUT_H) { return; }
  let t = select(x, y, VERTICAL) * (TAPS + 2u);
  let first = u32(table[t]);
  let count = u32(table[t + 1u]);
  // The taps run along the resized axis: along the row, or down the column.
  var idx = (SRC_Y0 + select(y, first, VERTICAL)) * SRC_STRIDE + SRC_X0 + select(first, x, VERTICAL);
  let step = select(1u, SRC_STRIDE, VERTICAL);
  var r = 1 << 21u;
  var g = 1 << 21u;
  var b = 1 << 21u;
  for (var k = 0u; k < count; k++) {
    let p = src[idx];
    let w = table[t + 2u + k];
    r += i32(p & 0xffu) * w;
    g += i32((p >> 8u) & 0xffu) * w;
    b += i32((p >> 16u) & 0xffu) * w;
    idx += step;
  }
  dst[y * OUT_W + x] = clip8(r) | (clip8(g) << 8u) | (clip8(b) << 16u) | 0xff000000u;
}
