// Patch tokens of grid tiles → channel-first feature maps (CLS dropped), stitched in the image's layout.
// x: [T, 1 + H·W, D] encoder tokens (token 1 + a·W + b is patch row a, col b of its tile).
// y: [B, D, GR·H, GC·W]: map b stitches tiles FIRST + b·GR·GC .. in row-major order over GR rows and
//    GC columns of tiles, so y[b, d, Y, X] = x[FIRST + b·GR·GC + (Y/H)·GC + X/W, 1 + (Y%H)·W + X%W, d].
// The same shader gives InternVL's stitched map (B = 1, GR×GC = the grid), the thumbnail's map
// (B = 1, 1×1, FIRST = T − 1) and the unstitched stack (B = T, 1×1).
// Workgroups: 256 threads, one output element each, 2-D grid of workgroups (index = wg.y·nwg.x + wg.x).
// A pure gather (a transpose): consecutive threads write consecutive X, reads are D apart. It runs
// once per image on at most a few MB, far below the encoder's cost, so no tiled transpose.

override FIRST: u32;
override B: u32;
override GR: u32;
override GC: u32;
override H: u32;
override W: u32;
override D: u32;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let oh = GR * H;
  let ow = GC * W;
  let idx = (wg.y * nwg.x + wg.x) * 256u + lid;
  if (idx >= B * D * oh * ow) { return; }
  let X = idx % ow;
  let Y = (idx / ow) % oh;
  let d = (idx / (ow * oh)) % D;
  let b = idx / (ow * oh * D);
  let tile = FIRST + b * GR * GC + (Y / H) * GC + X / W;
  let token = 1u + (Y % H) * W + X % W;
  y[idx] = x[(tile * (1u + H * W) + token) * D + d];
}
