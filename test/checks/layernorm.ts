import { layernorm, layernormReference } from '../../src/kernels/layernorm.js';
import { runOnce } from '../../src/runtime/run-once.js';
import { compare, randomArray, rng, type KernelCheck } from './harness.js';

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

const cases: { rows: number; C: number; massive: boolean; offset?: number; bias?: boolean; eps?: number }[] = [
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
];

export const checks: KernelCheck[] = cases.map(({ rows, C, massive, offset = 0, bias = true, eps = 1e-6 }, i) => ({
  name: `layernorm rows=${rows} C=${C}${massive ? ' massive×300' : ''}${offset ? ` offset ${offset}` : ''}${bias ? '' : ' no bias'}`,
  async run(gpu) {
    const x = normInput(rows, C, 200 + i, massive, offset);
    const w = randomArray(C, 300 + i, 0.5, 1.5);
    const b = bias ? randomArray(C, 400 + i, -0.5, 0.5) : null;
    const inputs = { x: { data: x, shape: [rows, C] }, w: { data: w, shape: [C] }, ...(b ? { b: { data: b, shape: [C] } } : {}) };
    const out = await runOnce(gpu, inputs, (plan, r) => ({ y: layernorm(plan, r.x!, r.w!, r.b ?? null, eps) }));
    return compare(this.name, out.y as Float32Array, layernormReference(x, w, b, C, eps));
  },
}));
