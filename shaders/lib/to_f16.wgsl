// Shared WGSL (shaders/lib, prepended after `enable f16;` by the kernels with an f16 output).
// f32 → f16 for a value a kernel stores as f16. WGSL leaves the conversion of a runtime value beyond
// the f16 range implementation-defined (a GPU may clamp it to ±65504, which would be silently
// wrong); here a value beyond ±65504 becomes ±inf, as IEEE rounding of an overflow does, and NaN
// stays NaN, so an overflow reaches the model's outputs as a non-finite value that is reported.
fn to_f16(v: f32) -> f16 {
  if (abs(v) <= 65504.0) { return f16(v); }
  // Built from v's bits (sign; quiet-NaN bit when v is NaN), so it is a run-time value.
  let u = bitcast<u32>(v);
  let nan = select(0u, 0x0200u, (u & 0x7fffffffu) > 0x7f800000u);
  return bitcast<vec2<f16>>(((u >> 16u) & 0x8000u) | 0x7c00u | nan).x;
}
