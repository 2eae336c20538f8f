// Example user kernel: y[r, c] = x[r, c] · scale[c] + shift (a per-channel affine with a constant shift).
// Layout: x, y are [ROWS, COLS] row-major f32; scale is [COLS].
// Workgroups: 64 threads along the columns of one row; rows on workgroup_id.y.

override ROWS: u32;
override COLS: u32;
override SHIFT: f32 = 0.0;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> scale: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let r = gid.y;
  if (c >= COLS || r >= ROWS) { return; }
  y[r * COLS + c] = x[r * COLS + c] * scale[c] + SHIFT;
}
