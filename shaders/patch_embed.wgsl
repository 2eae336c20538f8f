// Patch embedding, fused: Conv2d(3→D, kernel P, stride P) as a tiled GEMM that gathers patches straight
// from the image, plus conv bias, class token and position embedding, writing the final tokens.
//   out[b, 0, n]              = cls[n] + pos[0, n]
//   out[b, 1 + y·WP + x, n]   = Σ_k patch(b, y, x)[k] · weight[n, k] + bias[n] + pos[1 + y·WP + x, n]
// with k = c·P² + ky·P + kx (Conv2d weight (D, 3, P, P) viewed as (D, K), K = 3P²) and
// patch(b, y, x)[k] = pixels[b, c, y·P + ky, x·P + kx]; pixels beyond HP·P, WP·P are never read.
// Layout: pixels [B, 3, H, W] f32; weight [D, K] f32; bias [D]; cls [D]; pos [NTOK, D] (the possibly
// interpolated table); out [B, NTOK, D], NTOK = HP·WP + 1.
// GEMM view: M = B·NTOK output rows (class rows included: their A row is zero and the epilogue puts
// cls there), N = D, K = 3P². Workgroup: 16×16 threads own a BM×BN = 64×64 tile, 4×4 per thread
// (rows 4·ty.., cols 4·tx..); K in steps of BK = 16 through workgroup memory. Loads run along k so
// neighbouring threads read neighbouring pixels (kx) and neighbouring weights. Each loader thread fills
// 4 consecutive tile rows at its k, stored as one WHOLE vec4: WGSL lets a write to one vector
// component access the whole vector (Tint's HLSL backend does a read-modify-write), so threads never
// write different components of one vec4. Each thread's 4 patch base offsets are computed once; per
// K step only the (c, ky, kx) offset changes. Tiles are stored k-major with 4 floats of padding per
// k row to spread the store banks; reads are vec4.
// Grid: (⌈D/64⌉, ⌈M/64⌉). Ragged M, N, K are zero-filled / bounds-checked.

override B: u32;
override H: u32;
override W: u32;
override P: u32;
override WP: u32;
override NTOK: u32;
override D: u32;

const BM = 64u;
const BN = 64u;
const BK = 16u;
const ROW4 = 17u;  // vec4s per k row of a tile: 64/4 + 1 padding

@group(0) @binding(0) var<storage, read> pixels: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> cls: array<f32>;
@group(0) @binding(4) var<storage, read> pos: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

var<workgroup> As: array<vec4<f32>, BK * ROW4>;
var<workgroup> Bs: array<vec4<f32>, BK * ROW4>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let K = 3u * P * P;
  let M = B * NTOK;
  let n0 = wg.x * BN;
  let m0 = wg.y * BM;
  let tx = lid.x;
  let ty = lid.y;

  // Loader role: k column lk of the tile, rows/cols 4·lr + i (the lr-th vec4 of the k row).
  let lk = li % BK;
  let lr = li / BK;
  var patchBase: array<u32, 4>;
  var patchOk: array<bool, 4>;
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + 4u * lr + i;
    let t = m % NTOK;
    patchOk[i] = m < M && t > 0u;
    let p = max(t, 1u) - 1u;
    patchBase[i] = (m / NTOK) * 3u * H * W + (p / WP) * P * W + (p % WP) * P;
  }

  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < K; k0 += BK) {
    let k = k0 + lk;
    let kin = k < K;
    let c = k / (P * P);
    let r = k % (P * P);
    let koff = c * H * W + (r / P) * W + (r % P);
    var av: array<f32, 4>;
    var wv: array<f32, 4>;
    for (var i = 0u; i < 4u; i++) {
      av[i] = 0.0;  // class and padding rows, k ≥ K
      if (kin && patchOk[i]) { av[i] = pixels[patchBase[i] + koff]; }
      let n = n0 + 4u * lr + i;
      wv[i] = 0.0;
      if (kin && n < D) { wv[i] = weight[n * K + k]; }
    }
    As[lk * ROW4 + lr] = vec4<f32>(av[0], av[1], av[2], av[3]);
    Bs[lk * ROW4 + lr] = vec4<f32>(wv[0], wv[1], wv[2], wv[3]);
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let a = As[kk * ROW4 + ty];
      let b = Bs[kk * ROW4 + tx];
      acc[0] += a.x * b;
      acc[1] += a.y * b;
      acc[2] += a.z * b;
      acc[3] += a.w * b;
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let m = m0 + 4u * ty + i;
    if (m >= M) { break; }
    let t = m % NTOK;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + 4u * tx + j;
      if (n >= D) { break; }
      var v = acc[i][j] + bias[n];
      if (t == 0u) { v = cls[n]; }
      out[m * D + n] = v + pos[t * D + n];
    }
  }
}
