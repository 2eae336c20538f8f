// Image tiles → pixel_values: uint8 RGB → float via a per-channel lookup table, channel-first.
// lut[c·256 + v] holds the float32 value of level v in channel c, computed on the CPU with the exact
// float32 steps of the reference pipeline (torchvision: (v/255 − mean)/std; Transformers: float64
// v·(1/255) → float32, − mean, / std), so the result is bit-identical to it; GPU division need not be
// correctly rounded, a table lookup is.
// Tile k of this dispatch (k < TILES) is the S×S block at (X0 + (k % COLS)·S, Y0 + ⌊k / COLS⌋·S) of the
// source view and becomes tile T0 + k of pixel_values.
//
// Layout:
//   src          array<u32>  RGBA8 packed per pixel (R in the low byte; alpha ignored), rows of SRC_STRIDE
//   lut          array<f32>  3 × 256
//   pixel_values array<f32>  (T, 3, S, S) row-major; this dispatch writes tiles T0 .. T0 + TILES − 1
// Workgroups: 64×4 threads over (x, y) of a tile, z = tile. One thread reads one pixel and writes its
// three channel planes; consecutive x write consecutive floats in each plane (coalesced). The 3 KB
// table stays in cache.

override SRC_STRIDE: u32;
override X0: u32;
override Y0: u32;
override S: u32;
override COLS: u32;
override TILES: u32;
override T0: u32;

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read> lut: array<f32>;
@group(0) @binding(2) var<storage, read_write> pixel_values: array<f32>;

@compute @workgroup_size(64, 4)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let x = gid.x;
  let y = gid.y;
  let k = gid.z;
  if (x >= S || y >= S || k >= TILES) { return; }
  let sx = X0 + (k % COLS) * S + x;
  let sy = Y0 + (k / COLS) * S + y;
  let p = src[sy * SRC_STRIDE + sx];
  let plane = S * S;
  let o = (T0 + k) * 3u * plane + y * S + x;
  pixel_values[o] = lut[p & 0xffu];
  pixel_values[o + plane] = lut[256u + ((p >> 8u) & 0xffu)];
  pixel_values[o + 2u * plane] = lut[512u + ((p >> 16u) & 0xffu)];
}
