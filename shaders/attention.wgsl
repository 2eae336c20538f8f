// Fused multi-head attention, flash-style: out = softmax((q·HEAD_DIM^-0.5)·kᵀ)·v per (batch, head),
// softmax over all N keys (no mask). The N×N scores never reach global memory.
// qkv: [B, N, 3·D] f32 read as vec4 (columns [q | k | v], each D = HEADS·HEAD_DIM wide; head h uses
//      columns h·HEAD_DIM.. within each), straight from the qkv linear.
// out: [B, N, D] f32 as vec4, head h at columns h·HEAD_DIM.. (heads concatenated, ready for proj).
//
// Workgroup: WG = BQ·T threads own BQ queries of one (batch, head); grid (⌈N/BQ⌉, HEADS, B).
// The T threads of a query split the head dimension: thread t holds vec4 columns t, t+T, … (DV4 of
// them) of q and of the output accumulator in registers. Interleaved columns make a warp's reads
// of one K/V row contiguous (no bank conflicts), and every query of the warp shares them (broadcast).
// Per block of BK keys:
//   1. K and V rows are stored to workgroup memory from registers; the next block is then fetched
//      into registers while this one is used (hides global latency without a second tile).
//   2. Each thread forms partial dot products over its columns, 4 keys per vec4, and writes them to
//      `partials`; after a barrier every thread of a query sums the T partials (full scores).
//   3. Online softmax: block max m_new, accumulator and running sum rescaled by exp2(m_old − m_new),
//      then acc += p·v over the thread's columns. Keys past N get p = 0 (ragged last block).
// Scores live in the log2 domain: q is pre-scaled by Q_SCALE = HEAD_DIM^-0.5·log2(e), so p = exp2(s − m)
// equals exp(score − max). All sums are f32; the running max keeps every exponent ≤ 0 (large scores
// from massive activations cannot overflow).
// Limits: WG ≤ 256 invocations; workgroup memory 2·BK·HEAD_DIM·(4 or 2 for F16) + BK·WG·4 bytes (≤ 16 KiB, chosen in
// src/kernels/attention.ts). DV4 ≤ 8, BK/4 ≤ 8 and LOADS ≤ 4 size the register arrays below.

override N: u32;
override HEADS: u32;
override HEAD_DIM: u32;
override T: u32;        // threads per query
override DV4: u32;      // vec4 columns per thread: T·DV4 = HEAD_DIM/4
override BK: u32;       // keys per block, multiple of 4
override WG: u32;       // threads per workgroup = BQ·T
override LOADS: u32;    // vec4s of K (and of V) each thread stages per block: ⌈BK·HEAD_DIM/4 / WG⌉
override Q_SCALE: f32;  // HEAD_DIM^-0.5 · log2(e)

override HD4: u32 = HEAD_DIM / 4u;
override D4: u32 = HEADS * HEAD_DIM / 4u;
override BQ: u32 = WG / T;
override TILE_LEN: u32 = BK * HEAD_DIM / 4u;
override PARTIALS_LEN: u32 = BK / 4u * WG;

// Element type of qkv, out and the K/V tiles: f32, or f16 (the F16 variant, shader-f16; `enable f16;`
// is prepended by src/kernels/attention.ts). Scores, softmax max/sum and the accumulator are f32 in
// both: K and V are widened as they are read from the tiles (exact).
//#if F16
alias V4 = vec4<f16>;
//#else
alias V4 = vec4<f32>;
//#endif

@group(0) @binding(0) var<storage, read> qkv: array<V4>;
@group(0) @binding(1) var<storage, read_write> out: array<V4>;

var<workgroup> k_tile: array<V4, TILE_LEN>;   // [BK][HD4]
var<workgroup> v_tile: array<V4, TILE_LEN>;   // [BK][HD4]
var<workgroup> partials: array<vec4<f32>, PARTIALS_LEN>; // [BK/4][BQ][T]: 4 keys' partial scores per thread

const MAX_DV4 = 8u;
const MAX_KQ = 8u;
const MAX_LOADS = 4u;
const NEG_BIG = -3.0e38; // finite "minus infinity": exp2(NEG_BIG − m) = 0 without inf − inf

// One vec4 of the K (part 1) or V (part 2) tile of the block starting at key0; zero past N.
fn load_kv(batch_row: u32, head_col: u32, key0: u32, i: u32, part: u32) -> V4 {
  let key = key0 + i / HD4;
  if (i >= TILE_LEN || key >= N) { return V4(0.0); }
  return qkv[(batch_row + key) * 3u * D4 + part * D4 + head_col + i % HD4];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let qi = li / T;
  let t = li % T;
  let query = wg.x * BQ + qi;
  let head_col = wg.y * HD4;
  let batch_row = wg.z * N;

  // Queries past N (last block) compute on a copy of the last row and store nothing.
  var q: array<vec4<f32>, MAX_DV4>;
  var acc: array<vec4<f32>, MAX_DV4>;
  let q_at = (batch_row + min(query, N - 1u)) * 3u * D4 + head_col + t;
  for (var m = 0u; m < DV4; m++) {
    q[m] = vec4<f32>(qkv[q_at + m * T]) * Q_SCALE;
    acc[m] = vec4<f32>(0.0);
  }

  var k_next: array<V4, MAX_LOADS>;
  var v_next: array<V4, MAX_LOADS>;
  for (var j = 0u; j < LOADS; j++) {
    k_next[j] = load_kv(batch_row, head_col, 0u, li + j * WG, 1u);
    v_next[j] = load_kv(batch_row, head_col, 0u, li + j * WG, 2u);
  }

  var m_run = NEG_BIG;
  var l_run = 0.0;
  for (var key0 = 0u; key0 < N; key0 += BK) {
    for (var j = 0u; j < LOADS; j++) {
      let i = li + j * WG;
      if (i < TILE_LEN) {
        k_tile[i] = k_next[j];
        v_tile[i] = v_next[j];
      }
    }
    workgroupBarrier();
    for (var j = 0u; j < LOADS; j++) {
      k_next[j] = load_kv(batch_row, head_col, key0 + BK, li + j * WG, 1u);
      v_next[j] = load_kv(batch_row, head_col, key0 + BK, li + j * WG, 2u);
    }

    // Partial scores over this thread's columns, 4 keys at a time.
    for (var kq = 0u; kq < BK / 4u; kq++) {
      let row = 4u * kq * HD4 + t;
      var s = vec4<f32>(0.0);
      for (var m = 0u; m < DV4; m++) {
        let c = row + m * T;
        s += vec4<f32>(dot(q[m], vec4<f32>(k_tile[c])), dot(q[m], vec4<f32>(k_tile[c + HD4])),
                       dot(q[m], vec4<f32>(k_tile[c + 2u * HD4])), dot(q[m], vec4<f32>(k_tile[c + 3u * HD4])));
      }
      partials[kq * WG + li] = s;
    }
    workgroupBarrier();

    // Full scores of this query (sum of the T partials), masked past N; block max.
    var s: array<vec4<f32>, MAX_KQ>;
    var m_new = m_run;
    for (var kq = 0u; kq < BK / 4u; kq++) {
      var sum = vec4<f32>(0.0);
      for (var u = 0u; u < T; u++) { sum += partials[kq * WG + qi * T + u]; }
      let key = vec4<u32>(key0 + 4u * kq) + vec4<u32>(0u, 1u, 2u, 3u);
      sum = select(vec4<f32>(NEG_BIG), sum, key < vec4<u32>(N));
      s[kq] = sum;
      m_new = max(m_new, max(max(sum.x, sum.y), max(sum.z, sum.w)));
    }

    // Online softmax: rescale what was accumulated under the old max, then add this block.
    let alpha = exp2(m_run - m_new);
    l_run *= alpha;
    for (var m = 0u; m < DV4; m++) { acc[m] *= alpha; }
    for (var kq = 0u; kq < BK / 4u; kq++) {
      let p = exp2(s[kq] - m_new);
      l_run += (p.x + p.y) + (p.z + p.w);
      let row = 4u * kq * HD4 + t;
      for (var m = 0u; m < DV4; m++) {
        let c = row + m * T;
        acc[m] += p.x * vec4<f32>(v_tile[c]) + p.y * vec4<f32>(v_tile[c + HD4])
                + p.z * vec4<f32>(v_tile[c + 2u * HD4]) + p.w * vec4<f32>(v_tile[c + 3u * HD4]);
      }
    }
    m_run = m_new;
    workgroupBarrier(); // the next block overwrites the tiles and partials
  }

  if (query < N) {
    let inv = 1.0 / l_run;
    let o = (batch_row + query) * D4 + head_col + t;
    // A convex combination of V rows: never beyond f16's range when V is f16.
    for (var m = 0u; m < DV4; m++) { out[o + m * T] = V4(acc[m] * inv); }
  }
}
