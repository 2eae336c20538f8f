import { layernorm, layernormReference, ROW_REDUCES } from './layernorm.js';
import { runOnce } from '../runtime/run-once.js';
import { halfBitsToF32 } from '../runtime/dtype.js';
import { ATOL, compare, needsShaderF16, needsSubgroups, randomArray, rng, RTOL_F16_OUT, type KernelCheck, type CheckResult } from './check-harness.js';

/**
 * Rows of uniform noise plus, optionally, "massive activations": a few channels (the same in every
 * row, as in pretrained ViTs) scaled ×300, and a common offset, both of which break one-pass E[x²]−E[x]².
 */
export function normInput(rows: number, C: number, seed: number, massive: boolean, offset = 0): Float32Array {
  const x = randomArray(rows * C, seed, -2, 2);
  if (massive) {
    const r = rng(seed + 1);
    const channels = Array.from({ length: Math.min(3, C) }, () => Math.floor(r() * C));
    for (let i = 0; i < rows; i++) for (const c of channels) x[i * C + c]! *= 300;
  }
  if (offset) for (let i = 0; i < x.length; i++) x[i]! += offset;
  return x;
}

/** y read back: f32, or f16 bits widened (exactly) for the comparison. */
export function outValues(y: unknown, f16: boolean): Float32Array {
  return f16 ? halfBitsToF32(y as Uint16Array, 'f16') : (y as Float32Array);
}

/** compare() with the f16-output tolerance when the kernel stored f16 (see RTOL_F16_OUT). */
export function compareOut(name: string, y: unknown, want: ArrayLike<number>, f16: boolean): CheckResult {
  return f16 ? compare(name, outValues(y, true), want, ATOL, RTOL_F16_OUT) : compare(name, outValues(y, false), want);
}

const cases: { rows: number; C: number; massive: boolean; offset?: number; bias?: boolean; eps?: number; f16?: boolean }[] = [
  { rows: 3, C: 1, massive: false },
  { rows: 5, C: 7, massive: true },
  { rows: 4, C: 64, massive: true },
  { rows: 3, C: 257, massive: true },
  { rows: 3, C: 1025, massive: true, offset: 100 },
  { rows: 3, C: 1025, massive: false, offset: 1000 }, // mean/std ≈ 900: one-pass variance loses ~5% here
  { rows: 2, C: 3200, massive: true },
  { rows: 2, C: 3200, massive: false, bias: false },
  { rows: 1025, C: 16, massive: true },
  { rows: 2, C: 12800, massive: true, eps: 1e-5 }, // InternVL-6B projector LayerNorm(4·3200)
  // f16 y (precision 'f16': x, the residual stream, and the statistics stay f32).
  { rows: 3, C: 257, massive: true, f16: true },
  { rows: 3, C: 1025, massive: true, offset: 100, f16: true },
  { rows: 2, C: 3200, massive: false, bias: false, f16: true },
  { rows: 1025, C: 16, massive: true, f16: true },
];

// Every case runs for both reductions (workgroup memory, subgroups: see src/kernels/layernorm.ts RowReduce).
export const checks: KernelCheck[] = ROW_REDUCES.flatMap((reduce) => cases.map(({ rows, C, massive, offset = 0, bias = true, eps = 1e-6, f16 = false }, i): KernelCheck => ({
  name: `layernorm ${reduce} ${f16 ? 'f16 out ' : ''}rows=${rows} C=${C}${massive ? ' massive×300' : ''}${offset ? ` offset ${offset}` : ''}${bias ? '' : ' no bias'}`,
  async run(gpu) {
    const skip = (f16 ? needsShaderF16(gpu, this.name) : null) ?? needsSubgroups(gpu, this.name, reduce);
    if (skip) return skip;
    const x = normInput(rows, C, 200 + i, massive, offset);
    const w = randomArray(C, 300 + i, 0.5, 1.5);
    const b = bias ? randomArray(C, 400 + i, -0.5, 0.5) : null;
    const inputs = { x: { data: x, shape: [rows, C] }, w: { data: w, shape: [C] }, ...(b ? { b: { data: b, shape: [C] } } : {}) };
    const out = await runOnce(gpu, inputs, (plan, r) => ({ y: layernorm(plan, r.x!, r.w!, r.b ?? null, eps, 'layernorm', f16 ? 'f16' : 'f32', reduce) }));
    return compareOut(this.name, out.y, layernormReference(x, w, b, C, eps), f16);
  },
})));
