// Shared WGSL functions, prepended to kernels that use them (WGSL has no #include).
// erf: WGSL has none. |v| < 1: Maclaurin series; |v| ≥ 1: Abramowitz–Stegun 7.1.26. |error| < 2e-7.
// gelu: exact erf form 0.5·x·(1 + erf(x/√2)) (the tanh approximation drifts ~1e-3 over layers).

fn erf_f32(v: f32) -> f32 {
  let a = abs(v);
  // |v| < 1: Maclaurin series 2/√π · v · Σ (−1)ⁿ v²ⁿ / (n!(2n+1)), terms to n = 9 (truncation < 2e-8).
  let s = v * v;
  var p = -1.0 / 6894720.0;
  p = p * s + 1.0 / 685440.0;
  p = p * s - 1.0 / 75600.0;
  p = p * s + 1.0 / 9360.0;
  p = p * s - 1.0 / 1320.0;
  p = p * s + 1.0 / 216.0;
  p = p * s - 1.0 / 42.0;
  p = p * s + 0.1;
  p = p * s - 1.0 / 3.0;
  p = p * s + 1.0;
  let series = 1.1283791670955126 * v * p;
  // |v| ≥ 1: Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7, erf ≥ 0.84 there so ~2 ulp).
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let q = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let tail = sign(v) * (1.0 - q * exp(-s));
  return select(tail, series, a < 1.0);
}

fn gelu(v: f32) -> f32 {
  return 0.5 * v * (1.0 + erf_f32(v * 0.70710678118654752));
}

