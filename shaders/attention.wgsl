// Fused multi-head attention, flash-style: out = softmax((q·HEAD_DIM^-0.5)·kᵀ)·v per (batch, head),
// softmax over all N keys (no mask). The N×N scores never reach global memory.
// qkv: [B, N, 3·D] f32 read as vec4 (columns [q | k | v], each D = HEADS·HEAD_DIM wide; head h uses
//      columns h·HEAD_DIM.. within each), straight from the qkv linear.
// out: [B, N, D] f32 as vec4, head h at columns h·HEAD_DIM.. (heads concatenated, ready for proj).
// One source, four kernels (src/kernels/attention.ts ATTENTION_VERSIONS): F16 (f16 qkv, out and K/V
// tiles) × SUBGROUPS (partial scores summed by subgroup shuffles); register blocking is the override QB.
//
// Workgroup: WG threads own BQ = QB·WG/T queries of one (batch, head); grid (⌈N/BQ⌉, HEADS, B).
// The T threads of a query group split the head dimension: thread t holds vec4 columns t, t+T, …
// (DV4 of them) of q and of the output accumulator in registers, for each of its QB queries
// (register blocking: every K/V vec4 read from workgroup memory serves QB dot products; 'fused' has
// QB = 1, 'fused-q4' QB = 4). Interleaved columns make a warp's reads of one K/V row contiguous (no
// bank conflicts), and every query group of the warp shares them (broadcast).
// Per block of BK keys:
//   1. K and V rows are stored to workgroup memory from registers; the next block is then fetched
//      into registers while this one is used (hides global latency without a second tile).
//   2. Each thread forms partial dot products over its columns, 4 keys per vec4, per query. The T
//      partials of a query are summed: through workgroup memory (`partials`, after a barrier), or
//      with SUBGROUPS by a butterfly of subgroupShuffleXor (no memory, no barrier; every lane ends
//      with the same bits, since a + b = b + a exactly).
//   3. Online softmax per query: block max m_new, accumulator and running sum rescaled by
//      exp2(m_old − m_new), then acc += p·v over the thread's columns. Keys past N get p = 0.
// Scores live in the log2 domain: q is pre-scaled by Q_SCALE = HEAD_DIM^-0.5·log2(e), so p = exp2(s − m)
// equals exp(score − max). All sums are f32; the running max keeps every exponent ≤ 0 (large scores
// from massive activations cannot overflow).
// SUBGROUPS and the lane layout: WebGPU does not promise that subgroup lanes follow
// local_invocation_index. So each subgroup claims a range of sg_size "slots" with one workgroup
// atomicAdd, and a thread's slot (claimed base + subgroup_invocation_id) decides its query and
// columns: the T threads of a query are then lanes of one subgroup whose ids differ in the low bits,
// whatever the hardware's layout. This needs T a power of two ≤ every subgroup size (T ≤ 4: WebGPU's
// minimum subgroup size) and full subgroups (WG a multiple of 128, the largest subgroup size).
// Limits: WG ≤ 256 invocations; workgroup memory 2·BK·HEAD_DIM·(4, or 2 for F16) + (no SUBGROUPS)
// BK·QB·WG·4 bytes, from the device's maxComputeWorkgroupStorageSize (src/kernels/attention.ts).
// QB·DV4 ≤ 16, QB·BK/4 ≤ 16, QB ≤ 4 and LOADS ≤ 4 size the register arrays below.

override N: u32;
override HEADS: u32;
override HEAD_DIM: u32;
override T: u32;        // threads per query group
override DV4: u32;      // vec4 columns per thread: T·DV4 = HEAD_DIM/4
override QB: u32;       // queries per thread (register blocking)
override BK: u32;       // keys per block, multiple of 4
override WG: u32;       // threads per workgroup (BQ/QB query groups of T)
override LOADS: u32;    // vec4s of K (and of V) each thread stages per block: ⌈BK·HEAD_DIM/4 / WG⌉
override Q_SCALE: f32;  // HEAD_DIM^-0.5 · log2(e)

override HD4: u32 = HEAD_DIM / 4u;
override D4: u32 = HEADS * HEAD_DIM / 4u;
override GROUPS: u32 = WG / T;       // query groups per workgroup
override BQ: u32 = GROUPS * QB;      // queries per workgroup
override TILE_LEN: u32 = BK * HEAD_DIM / 4u;

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
//#if SUBGROUPS
var<workgroup> slots_claimed: atomic<u32>;
//#else
override PARTIALS_LEN: u32 = BK / 4u * QB * WG;
var<workgroup> partials: array<vec4<f32>, PARTIALS_LEN>; // [BK/4][QB][WG]: 4 keys' partial scores per thread and query
//#endif

const MAX_QD = 16u;    // QB·DV4
const MAX_S = 16u;     // QB·BK/4
const MAX_QB = 4u;
const MAX_LOADS = 4u;
const NEG_BIG = -3.0e38; // finite "minus infinity": exp2(NEG_BIG − m) = 0 without inf − inf

// One vec4 of the K (part 1) or V (part 2) tile of the block starting at key0; zero past N.
fn load_kv(batch_row: u32, head_col: u32, key0: u32, i: u32, part: u32) -> V4 {
  let key = key0 + i / HD4;
  if (i >= TILE_LEN || key >= N) { return V4(0.0); }
  return qkv[(batch_row + key) * 3u * D4 + part * D4 + head_col + i % HD4];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32,
//#if SUBGROUPS
        @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32,
//#endif
        ) {
//#if SUBGROUPS
  var claimed = 0u;
  if (subgroupElect()) { claimed = atomicAdd(&slots_claimed, sg_size); }
  let slot = subgroupBroadcastFirst(claimed) + sg_lane;
//#else
  let slot = li;
//#endif
  let g = slot / T;   // query group: queries wg.x·BQ + g + r·GROUPS, r < QB
  let t = slot % T;
  let head_col = wg.y * HD4;
  let batch_row = wg.z * N;
  let query0 = wg.x * BQ + g;

  // Queries past N (last block) compute on a copy of the last row and store nothing.
  var q: array<vec4<f32>, MAX_QD>;
  var acc: array<vec4<f32>, MAX_QD>;
  var m_run: array<f32, MAX_QB>;
  var l_run: array<f32, MAX_QB>;
  for (var r = 0u; r < QB; r++) {
    let q_at = (batch_row + min(query0 + r * GROUPS, N - 1u)) * 3u * D4 + head_col + t;
    for (var m = 0u; m < DV4; m++) {
      q[r * DV4 + m] = vec4<f32>(qkv[q_at + m * T]) * Q_SCALE;
      acc[r * DV4 + m] = vec4<f32>(0.0);
    }
    m_run[r] = NEG_BIG;
    l_run[r] = 0.0;
  }

  var k_next: array<V4, MAX_LOADS>;
  var v_next: array<V4, MAX_LOADS>;
  for (var j = 0u; j < LOADS; j++) {
    k_next[j] = load_kv(batch_row, head_col, 0u, li + j * WG, 1u);
    v_next[j] = load_kv(batch_row, head_col, 0u, li + j * WG, 2u);
  }

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

    // Partial scores over this thread's columns, 4 keys at a time, for each of its queries.
    var s: array<vec4<f32>, MAX_S>;
    for (var kq = 0u; kq < BK / 4u; kq++) {
      for (var r = 0u; r < QB; r++) { s[kq * QB + r] = vec4<f32>(0.0); }
      let row = 4u * kq * HD4 + t;
      for (var m = 0u; m < DV4; m++) {
        let c = row + m * T;
        let k0 = vec4<f32>(k_tile[c]);
        let k1 = vec4<f32>(k_tile[c + HD4]);
        let k2 = vec4<f32>(k_tile[c + 2u * HD4]);
        let k3 = vec4<f32>(k_tile[c + 3u * HD4]);
        for (var r = 0u; r < QB; r++) {
          let qv = q[r * DV4 + m];
          s[kq * QB + r] += vec4<f32>(dot(qv, k0), dot(qv, k1), dot(qv, k2), dot(qv, k3));
        }
      }
    }
    // Full scores: the sum of the T partials of each query.
//#if SUBGROUPS
    for (var mask = 1u; mask < T; mask <<= 1u) {
      for (var i = 0u; i < BK / 4u * QB; i++) { s[i] += subgroupShuffleXor(s[i], mask); }
    }
//#else
    for (var i = 0u; i < BK / 4u * QB; i++) { partials[i * WG + slot] = s[i]; }
    workgroupBarrier();
    for (var i = 0u; i < BK / 4u * QB; i++) {
      var sum = vec4<f32>(0.0);
      for (var u = 0u; u < T; u++) { sum += partials[i * WG + g * T + u]; }
      s[i] = sum;
    }
//#endif

    // Online softmax per query: scores past N masked, block max, what was accumulated under the old
    // max rescaled; s then holds the block's weights p = exp2(s − m_new).
    for (var r = 0u; r < QB; r++) {
      var m_new = m_run[r];
      for (var kq = 0u; kq < BK / 4u; kq++) {
        let key = vec4<u32>(key0 + 4u * kq) + vec4<u32>(0u, 1u, 2u, 3u);
        let sv = select(vec4<f32>(NEG_BIG), s[kq * QB + r], key < vec4<u32>(N));
        s[kq * QB + r] = sv;
        m_new = max(m_new, max(max(sv.x, sv.y), max(sv.z, sv.w)));
      }
      let alpha = exp2(m_run[r] - m_new);
      var l = l_run[r] * alpha;
      for (var m = 0u; m < DV4; m++) { acc[r * DV4 + m] *= alpha; }
      for (var kq = 0u; kq < BK / 4u; kq++) {
        let p = exp2(s[kq * QB + r] - m_new);
        l += (p.x + p.y) + (p.z + p.w);
        s[kq * QB + r] = p;
      }
      m_run[r] = m_new;
      l_run[r] = l;
    }
    // acc += p·v: each V vec4 read from workgroup memory serves all QB queries.
    for (var kq = 0u; kq < BK / 4u; kq++) {
      let row = 4u * kq * HD4 + t;
      for (var m = 0u; m < DV4; m++) {
        let c = row + m * T;
        let v0 = vec4<f32>(v_tile[c]);
        let v1 = vec4<f32>(v_tile[c + HD4]);
        let v2 = vec4<f32>(v_tile[c + 2u * HD4]);
        let v3 = vec4<f32>(v_tile[c + 3u * HD4]);
        for (var r = 0u; r < QB; r++) {
          let p = s[kq * QB + r];
          acc[r * DV4 + m] += p.x * v0 + p.y * v1 + p.z * v2 + p.w * v3;
        }
      }
    }
    workgroupBarrier(); // the next block overwrites the tiles (and partials)
  }

  for (var r = 0u; r < QB; r++) {
    let query = query0 + r * GROUPS;
    if (query < N) {
      let inv = 1.0 / l_run[r];
      let o = (batch_row + query) * D4 + head_col + t;
      // A convex combination of V rows: never beyond f16's range when V is f16.
      for (var m = 0u; m < DV4; m++) { out[o + m * T] = V4(acc[r * DV4 + m] * inv); }
    }
  }
}
