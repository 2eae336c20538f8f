// Y = epilogue(X·Wᵀ + b), tiled: the 'tiled' (64×128) and 'tiled64' (64×64) matmul versions.
// X [M, K], W [N, K] (PyTorch Linear (out,in)), Y [M, N], all row-major. The bindings, loads and
// tile element types (X/W f32, packed bf16/f16 W, f16 X) are shaders/lib/matmul_operands.wgsl; the
// epilogue (bias, GELU, residual + layer scale, f32 or f16 Y) is shaders/lib/matmul_epilogue.wgsl.
// src/kernels/matmul.ts prepends both (with gelu_erf, the unpacker and, for f16, `enable f16;` and
// to_f16) and resolves their `//#if` blocks; everything else here is override constants.
//
// Workgroup: 256 threads (16 × 16) compute a 64 (M) × 128 (N) tile of Y; each thread a 4 × 8 block
// (rows ty·4 + i, columns tx·4 + j and 64 + tx·4 + j, so a warp's B reads are 256 contiguous bytes).
// K advances in tiles of 16. Each tile of X (64×16) and W (128×16) is loaded as vec4 along K, then
// stored TRANSPOSED into workgroup memory (As[k][m], Bs[k][n]) so the inner loop is an outer product:
// per k one vec4 of A and two of B feed 32 FMAs. Loaders (threads 0..63 for X, 64..191 for W) each
// load a block of 4 rows × 4 k (four vec4) and store it as four WHOLE vec4 of the transposed tile
// (4 rows at one k): WGSL lets a write to one vector component access the whole vector (Tint's HLSL
// backend does a read-modify-write), so invocations must never write different components of one
// vec4 concurrently. A warp covers 16 row quads × 2 vec4 columns: global reads fill whole 32-byte
// sectors and each quarter-warp's 16-byte stores hit 8 consecutive vec4 (no bank conflicts).
// Row strides 68 / 132 floats; workgroup memory 16·68·4 + 16·132·4 = 12.5 KiB (< 16 KiB default
// limit; half of a tile's bytes when it is f16). The next K tile's global loads are issued before the current tile's FMAs (register
// prefetch) to hide global latency.
// Dispatch: (ceil(N / BN), ceil(M / 64)). Rows ≥ M, columns ≥ N and k ≥ K load as zero; stores
// are bounds-checked, so any M, N, K works.
// BN = 64 (override; the 'tiled64' version): the same kernel with only the first column group: W is
// loaded by threads 64..127 and each thread keeps a 4 × 4 block. Half the work per workgroup, twice
// the workgroups: for grids that would not fill the GPU (N = 1024 at M = 1025 is 136 workgroups of
// 64×128). The BN == 128 branches are removed at pipeline creation.

const BM: u32 = 64u;
override BN: u32 = 128u; // 128, or 64 ('tiled64': twice the workgroups for the same N; see the header)
const BK: u32 = 16u;
const SA: u32 = 17u; // As row stride in vec4 (68 floats)
const SB: u32 = 33u; // Bs row stride in vec4 (132 floats)

var<workgroup> As: array<AT, 272>; // [BK][SA] vec4: As[k][m] = X[m0 + m][k0 + k]
var<workgroup> Bs: array<BT, 528>; // [BK][SB] vec4: Bs[k][n] = W[n0 + n][k0 + k]

// Row `row`, k..k+3 of the matrix thread `lid` loads: X (0..63), W (64..64 + BN - 1), none (the rest).
fn loadFor(lid: u32, row: u32, k: u32) -> vec4<f32> {
  if (lid < 64u) { return loadX(row, k, K); }
  if (lid < 64u + BN) { return loadW(row, k, K); }
  return vec4<f32>(0.0);
}

// storeA / storeB (the transposing tile stores): shaders/lib/matmul_operands.wgsl.

// One row of a thread's block: columns nA..nA+3 (ga) and nA+64..nA+67 (gb).
fn storeRow(m: u32, nA: u32, ga: vec4<f32>, gb: vec4<f32>) {
  if (m >= M) { return; }
  for (var j = 0u; j < 4u; j++) {
    let na = nA + j;
    if (na < N) { y[m * N + na] = toY(epilogue(m, na, ga[j])); }
    let nb = nA + 64u + j;
    if (BN == 128u && nb < N) { y[m * N + nb] = toY(epilogue(m, nb, gb[j])); }
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n0 = wg.x * BN;
  let m0 = wg.y * BM;
  let tx = lid % 16u;
  let ty = lid / 16u;

  // Load mapping: unit u within its matrix (X: 0..63, W: 0..127) loads row quad lq (rows 4·lq..+3)
  // at vec4 column lkq: lq = lane % 16 + 16 · (u / 64), lkq = lane / 16 + 2 · ((u / 32) % 2).
  let u = select(lid - 64u, lid, lid < 64u);
  let lane = u % 32u;
  let lq = lane % 16u + 16u * (u / 64u);
  let lkq = lane / 16u + 2u * ((u / 32u) % 2u);
  let row0 = select(n0, m0, lid < 64u) + 4u * lq;

  var c0 = vec4<f32>(0.0); var c1 = vec4<f32>(0.0); // row i = 0: columns group 0, group 1
  var c2 = vec4<f32>(0.0); var c3 = vec4<f32>(0.0); // row 1
  var c4 = vec4<f32>(0.0); var c5 = vec4<f32>(0.0); // row 2
  var c6 = vec4<f32>(0.0); var c7 = vec4<f32>(0.0); // row 3

  var p0 = loadFor(lid, row0, lkq * 4u);
  var p1 = loadFor(lid, row0 + 1u, lkq * 4u);
  var p2 = loadFor(lid, row0 + 2u, lkq * 4u);
  var p3 = loadFor(lid, row0 + 3u, lkq * 4u);

  let tiles = (K + BK - 1u) / BK;
  for (var t = 0u; t < tiles; t++) {
    if (lid < 64u) {
      storeA(lq, lkq, p0, p1, p2, p3);
    } else if (lid < 64u + BN) {
      storeB(lq, lkq, p0, p1, p2, p3);
    }
    workgroupBarrier();
    // Prefetch the next tile while this one is multiplied (past the end: loads return zero).
    let k1 = (t + 1u) * BK + lkq * 4u;
    p0 = loadFor(lid, row0, k1);
    p1 = loadFor(lid, row0 + 1u, k1);
    p2 = loadFor(lid, row0 + 2u, k1);
    p3 = loadFor(lid, row0 + 3u, k1);
    for (var kk = 0u; kk < BK; kk++) {
      let a = vec4<f32>(As[kk * SA + ty]);
      let b0 = vec4<f32>(Bs[kk * SB + tx]);
      c0 += a.x * b0;
      c2 += a.y * b0;
      c4 += a.z * b0;
      c6 += a.w * b0;
      if (BN == 128u) {
        let b1 = vec4<f32>(Bs[kk * SB + 16u + tx]);
        c1 += a.x * b1;
        c3 += a.y * b1;
        c5 += a.z * b1;
        c7 += a.w * b1;
      }
    }
    workgroupBarrier();
  }

  let mBase = m0 + ty * 4u;
  let nA = n0 + tx * 4u;
  storeRow(mBase, nA, c0, c1);
  storeRow(mBase + 1u, nA, c2, c3);
  storeRow(mBase + 2u, nA, c4, c5);
  storeRow(mBase + 3u, nA, c6, c7);
}
