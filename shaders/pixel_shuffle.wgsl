// InternVL pixel shuffle (downsample ratio 0.5) of ViT tokens, dropping the CLS token.
// x: [B, 1 + GH·GW, C] encoder tokens (token 1 + a·GW + b is grid cell (row a, col b)).
// y: [B, (GH/2)·(GW/2), 4C]. Output token t = i·(GW/2) + j (v2) or j·(GH/2) + i (v1, TRANSPOSED = 1);
//    its channels are 4 blocks of C: X[2i, 2j], X[2i, 2j+1], X[2i+1, 2j], X[2i+1, 2j+1].
// Workgroups: 256 threads, one output element each, 2-D grid of workgroups (index = wg.y·nwg.x + wg.x).
// A pure gather: memory-bound, consecutive threads read consecutive channels (coalesced).

override BATCH: u32;
override GH: u32;
override GW: u32;
override C: u32;
override TRANSPOSED: u32 = 0u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let oh = GH / 2u;
  let ow = GW / 2u;
  let out_c = 4u * C;
  let idx = (wg.y * nwg.x + wg.x) * 256u + lid;
  if (idx >= BATCH * oh * ow * out_c) { return; }
  let ch = idx % out_c;
  let t = (idx / out_c) % (oh * ow);
  let n = idx / (out_c * oh * ow);
  var i = t / ow;
  var j = t % ow;
  if (TRANSPOSED == 1u) {
    i = t % oh;
    j = t / oh;
  }
  let quad = ch / C;
  let c = ch % C;
  let a = 2u * i + quad / 2u;
  let b = 2u * j + quad % 2u;
  y[idx] = x[(n * (1u + GH * GW) + 1u + a * GW + b) * C + c];
}
