// Unfused attention, step 3 (the simple reference version): out = P·v per (batch, head), heads
// concatenated. P comes from softmax.wgsl over the rows of attention_scores.wgsl's output.
// probs: [B, HEADS, N, N] f32 (row = query, softmax over the key column).
// qkv:   [B, N, 3·D] f32; v of head h is columns 2·D + h·HEAD_DIM.. of each token row.
// out:   [B, N, D] f32, head h at columns h·HEAD_DIM.. (ready for the proj linear).
// Workgroups: 64 threads, one output element each over the flat [B, N, D] index; 2-D grid of
// workgroups (index = wg.y·nwg.x + wg.x). Consecutive threads read consecutive v columns
// (coalesced) and the same P entry (broadcast). Simple on purpose: the fused kernel's baseline.

override BATCH: u32;
override N: u32;
override HEADS: u32;
override HEAD_DIM: u32;

@group(0) @binding(0) var<storage, read> probs: array<f32>;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let d = HEADS * HEAD_DIM;
  let idx = (wg.y * nwg.x + wg.x) * 64u + lid;
  if (idx >= BATCH * N * d) { return; }
  let col = idx % d;
  let h = col / HEAD_DIM;
  let query = (idx / d) % N;
  let b = idx / (N * d);
  let p_at = ((b * HEADS + h) * N + query) * N;
  let v_at = b * N * 3u * d + 2u * d + col;
  var acc = 0.0;
  for (var key = 0u; key < N; key++) {
    acc += probs[p_at + key] * qkv[v_at + key * 3u * d];
  }
  out[idx] = acc;
}
