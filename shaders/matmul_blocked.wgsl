// Y = epilogue(X·Wᵀ + b) with the output tile and the per-thread block as override constants: the
// 'tile32x128', 'tile32x64', 'tile128x128' and 'splitk' matmul versions (src/kernels/matmul.ts,
// MATMUL_VERSIONS, holds each one's constants). X [M, K], W [N, K] (PyTorch Linear (out,in)),
// Y [M, N], row-major. Operands and tile element types: shaders/lib/matmul_operands.wgsl; epilogue
// and Y's type: shaders/lib/matmul_epilogue.wgsl (both prepended by the TS, like shaders/matmul.wgsl).
//
// Workgroup: WG = (BM / TM) · (BN / TN) threads compute a BM × BN tile of Y; thread (tx, ty) keeps a
// TM × TN block (TM, TN ∈ {4, 8}): row quads i·(BM/TM) + ty and column quads j·(BN/TN) + tx, so
// neighbouring threads read neighbouring vec4 of the tiles. K advances in tiles of BK. Each K tile
// of X (BM × BK) and W (BN × BK) is cut into units of 4 rows × 4 k; the WG threads take the units in
// turn (u = lid, lid + WG, …; four vec4 loads each, along K so that 4 threads read 64 contiguous
// bytes of a row) and store each unit TRANSPOSED as four whole vec4 (As[k][row quad], Bs[k][column
// quad]): never different components of one vec4 from different threads (see matmul.wgsl). Then per
// k the inner loop is an outer product of TM/4 vec4 of A and TN/4 vec4 of B (TM·TN FMAs).
// Workgroup memory: BK·(BM/4 + 1) + BK·(BN/4 + 1) vec4 (one vec4 of row padding each), f16 halves
// where a tile is f16. The TS checks it and WG against the device's limits (`unavailable`).
// Split-K: workgroup z sums k in [z·KS, min(K, (z+1)·KS)) (KS a multiple of BK) and writes its
// partial sums to slice z of Y (then an f32 scratch [S, M, N], with no epilogue); a second dispatch
// (shaders/matmul_splitk_reduce.wgsl) adds the slices in order and applies the epilogue. Without
// split-K, KS ≥ K and the grid has one z, so slice 0 is Y itself.
// Dispatch: (ceil(N / BN), ceil(M / BM), S). Rows ≥ M, columns ≥ N and k ≥ K load as zero; stores
// are bounds-checked, so any M, N, K works.

override BM: u32;
override BN: u32;
override TM: u32; // 4 or 8: rows per thread
override TN: u32; // 4 or 8: columns per thread
override BK: u32; // a multiple of 4
override WG: u32; // (BM / TM) · (BN / TN), given by the TS (an override expression here would not reach @workgroup_size checks)
override KS: u32; // K per z slice: a multiple of BK
override SA: u32 = BM / 4u + 1u; // As row stride in vec4
override SB: u32 = BN / 4u + 1u; // Bs row stride in vec4

var<workgroup> As: array<AT, BK * SA>; // As[k][q] = X[m0 + 4q + 0..3][k0 + k]
var<workgroup> Bs: array<BT, BK * SB>; // Bs[k][q] = W[n0 + 4q + 0..3][k0 + k]

// storeA / storeB (the transposing tile stores): shaders/lib/matmul_operands.wgsl.

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n0 = wg.x * BN;
  let m0 = wg.y * BM;
  let kBegin = wg.z * KS;
  let kEnd = min(K, kBegin + KS);
  let tx = lid % (BN / TN);
  let ty = lid / (BN / TN);
  let kq4 = BK / 4u;
  let aUnits = (BM / 4u) * kq4;
  let units = aUnits + (BN / 4u) * kq4;

  // acc[(4·i + r)·2 + j]: row r of row quad i, column quad j (at most 8 rows × 2 quads).
  var acc: array<vec4<f32>, 16>;

  for (var k0 = kBegin; k0 < kEnd; k0 += BK) {
    for (var u = lid; u < units; u += WG) {
      if (u < aUnits) {
        let q = u / kq4;
        let kq = u % kq4;
        let row = m0 + 4u * q;
        let k = k0 + 4u * kq;
        storeA(q, kq, loadX(row, k, kEnd), loadX(row + 1u, k, kEnd), loadX(row + 2u, k, kEnd), loadX(row + 3u, k, kEnd));
      } else {
        let v = u - aUnits;
        let q = v / kq4;
        let kq = v % kq4;
        let row = n0 + 4u * q;
        let k = k0 + 4u * kq;
        storeB(q, kq, loadW(row, k, kEnd), loadW(row + 1u, k, kEnd), loadW(row + 2u, k, kEnd), loadW(row + 3u, k, kEnd));
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      for (var i = 0u; i < TM / 4u; i++) {
        let a = vec4<f32>(As[kk * SA + i * (BM / TM) + ty]);
        for (var j = 0u; j < TN / 4u; j++) {
          let b = vec4<f32>(Bs[kk * SB + j * (BN / TN) + tx]);
          acc[(4u * i) * 2u + j] += a.x * b;
          acc[(4u * i + 1u) * 2u + j] += a.y * b;
          acc[(4u * i + 2u) * 2u + j] += a.z * b;
          acc[(4u * i + 3u) * 2u + j] += a.w * b;
        }
      }
    }
    workgroupBarrier();
  }

  // The stores read a copy of acc. A loop whose body inlines the GELU epilogue may stay rolled, and
  // a rolled loop indexing acc by its counter most likely made NVIDIA's compiler keep all of acc in
  // local memory for the whole kernel (H200, 2026-11-30: fc1 took 7-12x longer than with this copy).
  // The copy loop is small enough to unroll, so only the copy is indexed dynamically, after the K loop.
  var out: array<vec4<f32>, 16>;
  for (var q = 0u; q < 16u; q++) { out[q] = acc[q]; }
  let slice = wg.z * M * N;
  for (var i = 0u; i < TM / 4u; i++) {
    for (var rr = 0u; rr < 4u; rr++) {
      let m = m0 + 4u * (i * (BM / TM) + ty) + rr;
      if (m >= M) { continue; }
      for (var j = 0u; j < TN / 4u; j++) {
        let g = out[(4u * i + rr) * 2u + j];
        for (var c = 0u; c < 4u; c++) {
          let n = n0 + 4u * (j * (BN / TN) + tx) + c;
          if (n < N) { y[slice + m * N + n] = toY(epilogue(m, n, g[c])); }
        }
      }
    }
  }
}
