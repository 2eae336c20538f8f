// Packed 16-bit weights (shaders/lib, prepended to kernels that read them; WGSL has no #include).
// A u32 holds elements 2i (low half) and 2i+1 (high half) of a little-endian IEEE half array, so a
// safetensors F16 tensor's bytes are uploaded as they are. unpack2x16float is core WGSL (no
// shader-f16 needed) and exact: every half is a float32.

fn unpackHalf2(p: u32) -> vec2<f32> {
  return unpack2x16float(p);
}
