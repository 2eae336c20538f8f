import { qkRmsNorm, qkRmsNormReference, rmsnorm, rmsnormReference } from './rmsnorm.js';
import { runOnce } from '../runtime/run-once.js';
import { f16Values, needsShaderF16, needsSubgroups, randomArray, type KernelCheck } from './check-harness.js';
import { compareOut, normInput } from './layernorm.check.js';
import { ROW_REDUCES } from './layernorm.js';

const cases: { rows: number; C: number; massive: boolean; f16?: boolean }[] = [
  { rows: 3, C: 1, massive: false },
  { rows: 5, C: 7, massive: true },
  { rows: 4, C: 64, massive: true },
  { rows: 3, C: 257, massive: true },
  { rows: 3, C: 1025, massive: true },
  { rows: 2, C: 3200, massive: true },
  { rows: 1025, C: 16, massive: true },
  // f16 y (precision 'f16'; x and Σx² stay f32).
  { rows: 3, C: 257, massive: true, f16: true },
  { rows: 1025, C: 16, massive: true, f16: true },
];

// Every case runs for both reductions (workgroup memory, subgroups: see src/kernels/layernorm.ts RowReduce).
const rmsChecks: KernelCheck[] = ROW_REDUCES.flatMap((reduce) => cases.map(({ rows, C, massive, f16 = false }, i): KernelCheck => ({
  name: `rmsnorm ${reduce} ${f16 ? 'f16 out ' : ''}rows=${rows} C=${C}${massive ? ' massive×300' : ''}`,
  async run(gpu) {
    const skip = (f16 ? needsShaderF16(gpu, this.name) : null) ?? needsSubgroups(gpu, this.name, reduce);
    if (skip) return skip;
    const x = normInput(rows, C, 500 + i, massive);
    const w = randomArray(C, 600 + i, 0.5, 1.5);
    const out = await runOnce(gpu, { x: { data: x, shape: [rows, C] }, w: { data: w, shape: [C] } },
      (plan, r) => ({ y: rmsnorm(plan, r.x!, r.w!, 1e-6, 'rmsnorm', f16 ? 'f16' : 'f32', reduce) }));
    return compareOut(this.name, out.y, rmsnormReference(x, w, C, 1e-6), f16);
  },
})));

// The q block is scaled so each head has a very different norm: per-head RMSNorm would then differ
// from the full-D RMSNorm by far more than the tolerance.
const qkCases: { batch: number; tokens: number; D: number; f16?: boolean }[] = [
  { batch: 2, tokens: 5, D: 24 },
  { batch: 1, tokens: 1025, D: 16 },
  { batch: 1, tokens: 3, D: 3200 },
  // f16 qkv in and out (precision 'f16'), f32 sums of squares; the reference gets the f16 inputs.
  { batch: 2, tokens: 5, D: 24, f16: true },
  { batch: 1, tokens: 1025, D: 16, f16: true },
  { batch: 1, tokens: 3, D: 3200, f16: true },
];

const qkChecks: KernelCheck[] = ROW_REDUCES.flatMap((reduce) => qkCases.map(({ batch, tokens, D, f16 = false }, i): KernelCheck => ({
  name: `qkRmsNorm ${reduce} ${f16 ? 'f16 ' : ''}[${batch}, ${tokens}, 3·${D}] full-D (not per head)`,
  async run(gpu) {
    const skip = (f16 ? needsShaderF16(gpu, this.name) : null) ?? needsSubgroups(gpu, this.name, reduce);
    if (skip) return skip;
    const rows = batch * tokens;
    let qkv = normInput(rows, 3 * D, 700 + i % 3, true);
    for (let r = 0; r < rows; r++) for (let c = 0; c < D / 2; c++) qkv[r * 3 * D + c]! *= 10;
    const q16 = f16 ? f16Values(qkv) : null;
    if (q16) qkv = q16.values;
    const qw = randomArray(D, 800 + i, 0.5, 1.5);
    const kw = randomArray(D, 900 + i, 0.5, 1.5);
    const out = await runOnce(gpu,
      { qkv: q16 ? { data: q16.bits, shape: [batch, tokens, 3 * D], dtype: 'f16' } : { data: qkv, shape: [batch, tokens, 3 * D] }, qw: { data: qw, shape: [D] }, kw: { data: kw, shape: [D] } },
      (plan, r) => ({ y: qkRmsNorm(plan, r.qkv!, r.qw!, r.kw!, 1e-6, 'qk_rmsnorm', reduce) }));
    return compareOut(this.name, out.y, qkRmsNormReference(qkv, qw, kw, D, 1e-6), f16);
  },
})));

export const checks: KernelCheck[] = [...rmsChecks, ...qkChecks];
