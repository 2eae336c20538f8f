// Position-embedding resize: PyTorch F.interpolate(mode='bicubic', align_corners=False), float32.
//   out[0, :] = pos[0, :]                                    (CLS position, unchanged)
//   out[1 + oy·OUT_W + ox, :] = bicubic of the IN_H×IN_W grid pos[1 + iy·IN_W + ix, :]
// Per axis: src = (dst + 0.5)·(in/out) − 0.5 (not clamped; in/out from the sizes, as PyTorch does when
// given size=), i0 = ⌊src⌋, t = src − i0. src = (in·(2·dst + 1) − out) / (2·out) is split into i0 and t
// in integers, so t is exact up to one f32 rounding (a f32 product scale·(dst + 0.5) would put ~1e-6
// of error into t on a 32-wide grid). Cubic convolution weights with A = −0.75 in
// PyTorch's form; taps i0−1..i0+2 clamped to [0, in−1]; no antialias. Rows are interpolated along x
// first, then the four row results along y, the order PyTorch uses.
// Layout: pos [(IN_H·IN_W + 1)·D] f32 (checkpoint (1, G²+1, D)); out [(OUT_H·OUT_W + 1)·D] f32.
// Workgroups: 256 threads, one output element each, d fastest so reads and writes are coalesced;
// 2-D grid, index = (wg.y · nwg.x + wg.x) · 256 + lid, tail skipped.

override IN_H: u32;
override IN_W: u32;
override OUT_H: u32;
override OUT_W: u32;
override D: u32;

@group(0) @binding(0) var<storage, read> pos: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

const A = -0.75;

// PyTorch's get_cubic_upsample_coefficients: weights of taps i0−1, i0, i0+1, i0+2.
fn cubic_weights(t: f32) -> vec4<f32> {
  let x1 = t + 1.0;
  let x2 = 1.0 - t;
  let x3 = x2 + 1.0;
  return vec4<f32>(
    ((A * x1 - 5.0 * A) * x1 + 8.0 * A) * x1 - 4.0 * A,
    ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0,
    ((A + 2.0) * x2 - (A + 3.0)) * x2 * x2 + 1.0,
    ((A * x3 - 5.0 * A) * x3 + 8.0 * A) * x3 - 4.0 * A);
}

struct Taps {
  idx: vec4<u32>,   // source indices i0−1..i0+2, clamped to [0, size−1]
  w: vec4<f32>,
}

// Taps along one axis for output index o of out_size, from a source axis of in_size.
fn axis(o: u32, in_size: u32, out_size: u32) -> Taps {
  let num = i32(in_size * (2u * o + 1u)) - i32(out_size);
  let den = i32(2u * out_size);
  var i0 = num / den;                        // truncates toward zero: fix up to floor
  if (i0 * den > num) { i0 -= 1; }
  let t = f32(num - i0 * den) / f32(den);
  let hi = i32(in_size) - 1;
  let idx = clamp(vec4<i32>(i0 - 1, i0, i0 + 1, i0 + 2), vec4<i32>(0), vec4<i32>(hi));
  return Taps(vec4<u32>(idx), cubic_weights(t));
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = (wg.y * nwg.x + wg.x) * 256u + lid;
  if (e >= (OUT_H * OUT_W + 1u) * D) { return; }
  let row = e / D;
  let d = e % D;
  if (row == 0u) {
    out[e] = pos[d];
    return;
  }
  let oy = (row - 1u) / OUT_W;
  let ox = (row - 1u) % OUT_W;
  let ay = axis(oy, IN_H, OUT_H);
  let ax = axis(ox, IN_W, OUT_W);
  var acc = 0.0;
  for (var j = 0u; j < 4u; j++) {
    let r = 1u + ay.idx[j] * IN_W;
    let v = vec4<f32>(pos[(r + ax.idx.x) * D + d], pos[(r + ax.idx.y) * D + d],
                      pos[(r + ax.idx.z) * D + d], pos[(r + ax.idx.w) * D + d]);
    acc += ay.w[j] * dot(v, ax.w);
  }
  out[e] = acc;
}
