// Packed 16-bit weights (shaders/lib, prepended to kernels that read them; WGSL has no #include).
// A u32 holds elements 2i (low half) and 2i+1 (high half) of a little-endian 16-bit array, so a
// safetensors BF16 tensor's bytes are uploaded as they are. bfloat16 is the top half of a float32:
// the conversion is exact and needs no extension.

fn unpackHalf2(p: u32) -> vec2<f32> {
  return vec2<f32>(bitcast<f32>(p << 16u), bitcast<f32>(p & 0xffff0000u));
}
