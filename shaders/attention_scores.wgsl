// Unfused attention, step 1 (the simple reference version): scores = (q·HEAD_DIM^-0.5)·kᵀ per
// (batch, head), written in full to global memory for softmax.wgsl and attention_pv.wgsl.
// qkv:    [B, N, 3·D] f32 (columns [q | k | v], each D = HEADS·HEAD_DIM wide; head h at h·HEAD_DIM..).
// scores: [B, HEADS, N, N] f32, row = query, column = key.
// Workgroups: 16×16 threads, one score each: x = key, y = query, z = b·HEADS + h. A plain dot
// product over HEAD_DIM in f32, scalar loads (any HEAD_DIM); kept simple on purpose, it is the
// baseline the fused kernel (attention.wgsl) is checked and timed against.

override N: u32;
override HEADS: u32;
override HEAD_DIM: u32;
override SCALE: f32; // HEAD_DIM^-0.5

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> scores: array<f32>;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let key = gid.x;
  let query = gid.y;
  if (key >= N || query >= N) { return; }
  let b = gid.z / HEADS;
  let h = gid.z % HEADS;
  let d = HEADS * HEAD_DIM;
  let q_at = (b * N + query) * 3u * d + h * HEAD_DIM;
  let k_at = (b * N + key) * 3u * d + d + h * HEAD_DIM;
  var s = 0.0;
  for (var c = 0u; c < HEAD_DIM; c++) {
    s += (qkv[q_at + c] * SCALE) * qkv[k_at + c];
  }
  scores[(gid.z * N + query) * N + key] = s;
}
