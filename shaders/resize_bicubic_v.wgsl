// Vertical pass of Pillow's bicubic resize (ImagingResampleVertical_8bpc), bit-exact on 8-bit RGB.
// dst[y, x] = clip8(2^21 + Σ_k src[SRC_Y0 + first(y) + k, SRC_X0 + x] · coeff(y, k)) per channel, with
// Pillow's Q22 weights and clip8(s) = clamp(s >> 22, 0, 255). Same int32 overflow bound as the
// horizontal pass (see resize_bicubic_h.wgsl).
//
// Layout (RGBA8 packed in u32, R in the low byte; alpha ignored, written as 255):
//   src   array<u32>  rows of SRC_STRIDE pixels; reads rows SRC_Y0 + first .. + count − 1,
//                     columns SRC_X0 .. SRC_X0 + OUT_W − 1
//   table array<i32>  OUT_H × (2 + TAPS): first, count, then TAPS Q22 weights (zero past count)
//   dst   array<u32>  OUT_H × OUT_W
// Workgroups: 64×4 threads, one output pixel each; threads along x read consecutive words of the
// same source rows (coalesced) and share the row's table entry.

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
  let t = y * (TAPS + 2u);
  let first = u32(table[t]);
  let count = u32(table[t + 1u]);
  var idx = (SRC_Y0 + first) * SRC_STRIDE + SRC_X0 + x;
  var r = 1 << 21u;
  var g = 1 << 21u;
  var b = 1 << 21u;
  for (var k = 0u; k < count; k++) {
    let p = src[idx];
    let w = table[t + 2u + k];
    r += i32(p & 0xffu) * w;
    g += i32((p >> 8u) & 0xffu) * w;
    b += i32((p >> 16u) & 0xffu) * w;
    idx += SRC_STRIDE;
  }
  dst[y * OUT_W + x] = clip8(r) | (clip8(g) << 8u) | (clip8(b) << 16u) | 0xff000000u;
}
