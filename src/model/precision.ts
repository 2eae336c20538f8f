// The compute precision of a model's plans: 'f32' (default, exact parity), 'f16' (f16 activations and
// matmul/attention operands, f32 accumulation; needs shader-f16), or 'auto' (f16 where the device
// has shader-f16). What stays f32 in 'f16', and why, is in ARCHITECTURE.md ("f16 compute").
import { describeGpu, type Gpu } from '../runtime/device.js';
import type { ActDType } from '../kernels/matmul.js';

export type Precision = 'f32' | 'f16' | 'auto';
export const PRECISIONS: readonly Precision[] = ['f32', 'f16', 'auto'];

/** The precision a model on `gpu` computes in; 'f16' without shader-f16 is an error naming the feature. */
export function resolvePrecision(gpu: Gpu, precision: Precision = 'f32'): ActDType {
  if (!PRECISIONS.includes(precision)) throw new Error(`precision must be one of ${PRECISIONS.join(', ')}; got '${String(precision)}'`);
  if (precision === 'f32') return 'f32';
  const has = gpu.features.shaderF16;
  if (precision === 'auto') return has ? 'f16' : 'f32';
  if (!has) {
    throw new Error(`precision 'f16' needs the WebGPU feature 'shader-f16', which this device does not have ` +
      `(${describeGpu(gpu).split('\n')[0]})${gpu.appDevice ? ": the app's device must be created with requestDevice({ requiredFeatures: ['shader-f16'] }) on an adapter that has it" : ''}; use precision 'auto' (f16 only where available) or 'f32'`);
  }
  return 'f16';
}

/**
 * f16 activations overflow beyond ±65504; the kernels store such a value as ±inf (never clamped).
 * An f16 forward's outputs are therefore checked for non-finite values, and one is an error
 * naming the output, instead of numbers that are silently wrong.
 */
export function checkFiniteOutputs(precision: ActDType, outputs: Readonly<Record<string, unknown>>): void {
  if (precision !== 'f16') return;
  for (const [name, data] of Object.entries(outputs)) {
    if (!(data instanceof Float32Array)) continue;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) {
        throw new Error(`precision 'f16': output '${name}' has a non-finite value (${data[i]}) at element ${i}: an activation ` +
          `overflowed f16's ±65504 range; use precision 'f32' for this model or input`);
      }
    }
  }
}

// Per-token cosine similarity: the accuracy measure of precision 'f16' (an elementwise float32
// tolerance is the wrong yardstick there). Used by `internvit run`'s parity and the f16 tests.

/** The accuracy contract of precision 'f16': every token's cosine to the float64 reference ≥ this, all values finite. */
export const F16_COSINE_MIN = 0.9995;

export interface TokenCosine {
  /** Smallest cosine over the rows (tokens) of the last dimension. */
  min: number;
  /** Row of the smallest cosine. */
  worstRow: number;
  rows: number;
  /** Values of `got` that are NaN or ±inf (any one fails an accuracy contract). */
  nonFinite: number;
}

/**
 * cos(got_r, want_r) for every row r of length `dim` (a token's hidden vector), computed in float64.
 * A row where both vectors are zero counts as 1; one zero vector against a non-zero one as 0.
 */
export function tokenCosine(got: ArrayLike<number>, want: ArrayLike<number>, dim: number): TokenCosine {
  if (got.length !== want.length) throw new Error(`tokenCosine: got ${got.length} values, want ${want.length}`);
  if (!Number.isInteger(dim) || dim < 1 || want.length % dim !== 0) throw new Error(`tokenCosine: ${want.length} values are not rows of ${dim}`);
  const rows = want.length / dim;
  let min = Infinity;
  let worstRow = -1;
  let nonFinite = 0;
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    let gg = 0;
    let ww = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) {
      const g = got[i]!;
      const w = want[i]!;
      if (!Number.isFinite(g)) nonFinite++;
      dot += g * w;
      gg += g * g;
      ww += w * w;
    }
    const cos = gg === 0 && ww === 0 ? 1 : gg === 0 || ww === 0 ? 0 : dot / Math.sqrt(gg * ww);
    // NaN (from a non-finite value) is the worst possible row.
    if (!(cos >= min)) {
      min = Number.isNaN(cos) ? -Infinity : cos;
      worstRow = r;
    }
  }
  return { min, worstRow, rows, nonFinite };
}
