// The kernel bench's correctness gate: before a case is timed, its output from one run is read back
// and a sample of its elements is compared with the op's float64 CPU reference (src/kernels/*.ts),
// computed for just those elements (a dot product per matmul element, one query row per attention
// element, one row per norm or softmax element), so full-size shapes check in milliseconds. A case
// whose sample misses the tolerance is reported FAILED with its worst element and never timed.
import type { TensorRef } from '../../src/runtime/plan.js';
import { halfBitsToF32 } from '../../src/runtime/dtype.js';
import { rng } from '../../src/runtime/rng.js';
import { ATOL, compare, RTOL, type CheckResult } from '../../src/kernels/check-harness.js';

/** What a kernel case's build returns: the output, and the reference for any of its elements. */
export interface CaseOutput {
  y: TensorRef;
  /** Float64 reference values of y at these flat indices (ascending), from the op's reference in src/kernels. */
  reference(indices: readonly number[]): Float64Array;
  /**
   * Tolerance when not the project's f32 one (ATOL/RTOL in src/kernels/check-harness.ts), with the reason:
   * e.g. an f16 output (RTOL_F16_OUT: inputs are f16 values, so only the final rounding is added).
   */
  tolerance?: { atol: number; rtol: number; why: string };
}

/** Elements checked per case (the first and the last among them: the edge tiles of ragged shapes). */
export const SAMPLE_SIZE = 128;

/** Distinct flat indices in [0, count), ascending, chosen by the repo's seeded rng; always 0 and count − 1. */
export function sampleIndices(count: number, seed: number, size = SAMPLE_SIZE): number[] {
  if (count <= size) return Array.from({ length: count }, (_, i) => i);
  const r = rng(seed);
  const picked = new Set<number>([0, count - 1]);
  while (picked.size < size) picked.add(Math.floor(r() * count));
  return [...picked].sort((a, b) => a - b);
}

/** Output values as f32, whatever the output's element type. */
function asFloat(data: ArrayLike<number>, dtype: string): ArrayLike<number> {
  if (dtype === 'f32') return data;
  if (dtype === 'f16') return halfBitsToF32(data as Uint16Array, 'f16');
  throw new Error(`sample check: output dtype '${dtype}' is not f32 or f16`);
}

/** Compares the sampled elements of one run's output with the reference; `name` labels the result. */
export function checkSample(name: string, out: CaseOutput, data: ArrayLike<number>, seed: number): CheckResult {
  const count = out.y.shape.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new Error(`${name}: read back ${data.length} values, the output ${out.y.label} has ${count}`);
  const values = asFloat(data, out.y.dtype);
  const idx = sampleIndices(count, seed);
  const want = out.reference(idx);
  if (want.length !== idx.length) throw new Error(`${name}: the reference gave ${want.length} values for ${idx.length} indices`);
  const got = Float64Array.from(idx, (i) => values[i]!);
  const tol = out.tolerance ?? { atol: ATOL, rtol: RTOL };
  const r = compare(name, got, want, tol.atol, tol.rtol);
  // Report the worst element by its index in the output, not in the sample.
  return { ...r, worst: { ...r.worst, index: r.worst.index >= 0 ? idx[r.worst.index]! : -1 } };
}
