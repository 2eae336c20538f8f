import { qkRmsNorm, qkRmsNormReference, rmsnorm, rmsnormReference } from '../../src/kernels/rmsnorm.js';
import { runOnce } from '../../src/runtime/run-once.js';
import { compare, randomArray, type KernelCheck } from './harness.js';
import { normInput } from './layernorm.js';

const cases: { rows: number; C: number; massive: boolean }[] = [
  { rows: 3, C: 1, massive: false },
  { rows: 5, C: 7, massive: true },
  { rows: 4, C: 64, massive: true },
  { rows: 3, C: 257, massive: true },
  { rows: 3, C: 1025, massive: true },
  { rows: 2, C: 3200, massive: true },
  { rows: 1025, C: 16, massive: true },
];

const rmsChecks: KernelCheck[] = cases.map(({ rows, C, massive }, i) => ({
  name: `rmsnorm rows=${rows} C=${C}${massive ? ' massive×300' : ''}`,
  async run(gpu) {
    const x = normInput(rows, C, 500 + i, massive);
    const w = randomArray(C, 600 + i, 0.5, 1.5);
    const out = await runOnce(gpu, { x: { data: x, shape: [rows, C] }, w: { data: w, shape: [C] } },
      (plan, r) => ({ y: rmsnorm(plan, r.x!, r.w!, 1e-6) }));
    return compare(this.name, out.y as Float32Array, rmsnormReference(x, w, C, 1e-6));
  },
}));

// The q block is scaled so each head has a very different norm: per-head RMSNorm would then differ
// from the full-D RMSNorm by far more than the tolerance.
const qkCases = [
  { batch: 2, tokens: 5, D: 24 },
  { batch: 1, tokens: 1025, D: 16 },
  { batch: 1, tokens: 3, D: 3200 },
];

const qkChecks: KernelCheck[] = qkCases.map(({ batch, tokens, D }, i) => ({
  name: `qkRmsNorm [${batch}, ${tokens}, 3·${D}] full-D (not per head)`,
  async run(gpu) {
    const rows = batch * tokens;
    const qkv = normInput(rows, 3 * D, 700 + i, true);
    for (let r = 0; r < rows; r++) for (let c = 0; c < D / 2; c++) qkv[r * 3 * D + c]! *= 10;
    const qw = randomArray(D, 800 + i, 0.5, 1.5);
    const kw = randomArray(D, 900 + i, 0.5, 1.5);
    const out = await runOnce(gpu,
      { qkv: { data: qkv, shape: [batch, tokens, 3 * D] }, qw: { data: qw, shape: [D] }, kw: { data: kw, shape: [D] } },
      (plan, r) => ({ y: qkRmsNorm(plan, r.qkv!, r.qw!, r.kw!, 1e-6) }));
    return compare(this.name, out.y as Float32Array, qkRmsNormReference(qkv, qw, kw, D, 1e-6));
  },
}));

export const checks: KernelCheck[] = [...rmsChecks, ...qkChecks];
