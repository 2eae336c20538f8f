// Kernel checks shared by the Node suite (vitest) and the browser page (Puppeteer): each check
// builds random inputs, runs the kernel on the GPU, and compares with the float64 CPU reference.
import type { Gpu } from '../runtime/device.js';
import { halfBitsToF32, toHalfBits } from '../runtime/dtype.js';
import { rng } from '../runtime/rng.js';

// The seeded generator lives in the package (k-means uses it); re-exported for the checks.
export { rng };

export interface CheckResult {
  name: string;
  ok: boolean;
  n: number;
  maxAbs: number;
  /** Worst |got − want| / (atol + rtol·|want|): ≤ 1 passes. */
  worstRatio: number;
  worst: { index: number; got: number; want: number };
  atol: number;
  rtol: number;
  skipped?: string;
}

export interface KernelCheck {
  name: string;
  run(gpu: Gpu): Promise<CheckResult>;
}

/** The float32 tolerance every kernel is held to unless a check documents a looser one. */
export const ATOL = 5e-4;
export const RTOL = 5e-4;

export function compare(name: string, got: ArrayLike<number>, want: ArrayLike<number>, atol = ATOL, rtol = RTOL): CheckResult {
  if (got.length !== want.length) throw new Error(`${name}: got ${got.length} values, want ${want.length}`);
  let maxAbs = 0;
  let worstRatio = 0;
  let worst = { index: -1, got: NaN, want: NaN };
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const d = Math.abs(g - w);
    // d = 0 passes even at zero tolerance (exact checks for gathers and integer kernels).
    const ratio = !Number.isFinite(g) ? Infinity : d === 0 ? 0 : d / (atol + rtol * Math.abs(w));
    if (d > maxAbs || !Number.isFinite(g)) maxAbs = Number.isFinite(g) ? d : Infinity;
    if (ratio > worstRatio || worst.index < 0) {
      worstRatio = ratio;
      worst = { index: i, got: g, want: w };
    }
  }
  return { name, ok: worstRatio <= 1 && want.length > 0, n: want.length, maxAbs, worstRatio, worst, atol, rtol };
}

/** A check that could not run on this adapter; reported as skipped with the reason, never as passed. */
export function skipped(name: string, reason: string): CheckResult {
  return { name, ok: true, n: 0, maxAbs: 0, worstRatio: 0, worst: { index: -1, got: NaN, want: NaN }, atol: ATOL, rtol: RTOL, skipped: reason };
}

export function formatResult(r: CheckResult): string {
  if (r.skipped) return `SKIP ${r.name}: ${r.skipped}`;
  return `${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: max |err| ${r.maxAbs.toExponential(2)} over ${r.n} values ` +
    `(worst at ${r.worst.index}: got ${r.worst.got}, want ${r.worst.want}; ${(100 * r.worstRatio).toFixed(1)}% of tolerance)`;
}

/** Uniform values in [lo, hi). */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/**
 * Tolerance of a kernel output stored as f16. The checks feed f16 kernels f16-representable inputs
 * and give the float64 reference those same values, so the kernel's only extra error is the final
 * rounding to f16: at most half an ulp, 2^-11 ≈ 4.9e-4 relative (normal range; below 2^-14 an
 * absolute 2^-25, inside ATOL). RTOL_F16_OUT = 1e-3 is two half-ulps: the rounding plus the f32
 * sums' own error, which the f32 tolerance already bounds. f32 outputs of f16 kernels keep ATOL/RTOL.
 */
export const RTOL_F16_OUT = 1e-3;

/** A check that needs shader-f16 on this device: the skip result saying so, or null when it can run. */
export function needsShaderF16(gpu: Gpu, name: string): CheckResult | null {
  return gpu.features.shaderF16 ? null : skipped(name, `the adapter has no 'shader-f16' (or the device was created without it): f16 kernels cannot run here`);
}

/** Skips a check of a subgroup kernel variant where the device has no 'subgroups'; null for the workgroup variant. */
export function needsSubgroups(gpu: Gpu, name: string, variant: 'subgroup' | 'workgroup'): CheckResult | null {
  if (variant === 'workgroup' || gpu.features.subgroups) return null;
  return skipped(name, `the adapter has no 'subgroups' (or the device was created without it): the subgroup variant cannot run here`);
}

/** Values rounded to f16 (round to nearest even): the bits for the GPU and the f32 values they hold. */
export function f16Values(values: Float32Array): { bits: Uint16Array; values: Float32Array } {
  const bits = toHalfBits(values, 'f16');
  return { bits, values: halfBitsToF32(bits, 'f16') };
}

/**
 * Checks of the f16-compute variants are named "<kernel> f16 …" (`matmul f16 tiled: …`,
 * `attention f16 fused …`, `layernorm f16 out …`), after the reduction variant where a kernel has
 * two (`layernorm subgroup f16 out …`); f32-compute checks with 16-bit weights say "… f16 w" later
 * in the name and are not among them. `selfcheck --precision` selects by this.
 */
export function isF16Check(name: string): boolean {
  return /^\S+ (?:subgroup |workgroup )?f16 /.test(name);
}
