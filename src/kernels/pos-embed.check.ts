import { posEmbedInterp, posEmbedInterpReference, type PosInterpShape } from './pos-embed.js';
import { createPlan, input } from '../runtime/plan.js';
import { runOnce } from '../runtime/run-once.js';
import { compare, randomArray, type KernelCheck } from './check-harness.js';

const cases: (PosInterpShape & { D: number })[] = [
  { gridH: 4, gridW: 4, outH: 7, outW: 7, D: 24 },       // up
  { gridH: 32, gridW: 32, outH: 20, outW: 20, D: 8 },    // down (448 px table → 280 px input)
  { gridH: 32, gridW: 32, outH: 23, outW: 37, D: 16 },   // non-square, down × up
  { gridH: 6, gridW: 4, outH: 9, outW: 5, D: 3 },        // non-square source
  { gridH: 8, gridW: 8, outH: 5, outW: 11, D: 100 },     // ragged D
  { gridH: 32, gridW: 32, outH: 1, outW: 1, D: 5 },      // a single patch
];

const resizeChecks: KernelCheck[] = cases.map((c, i) => ({
  name: `posEmbedInterp ${c.gridH}×${c.gridW} → ${c.outH}×${c.outW}, D=${c.D}`,
  async run(gpu) {
    const pos = randomArray((c.gridH * c.gridW + 1) * c.D, 1000 + i);
    const out = await runOnce(gpu, { pos: { data: pos, shape: [1, c.gridH * c.gridW + 1, c.D] } },
      (plan, r) => ({ y: posEmbedInterp(plan, r.pos!, c) }));
    // Bicubic weights sum to 1 (|w| ≤ 1.2): f32 rounding stays near 1e-7 of the input scale.
    return compare(this.name, out.y as Float32Array, posEmbedInterpReference(pos, c, c.D), 1e-5, 1e-5);
  },
}));

// Equal grids: no op is recorded and the table is used as is (the patch-embed checks cover it on the GPU);
// the reference must be the identity to the last bit.
const identityCheck: KernelCheck = {
  name: 'posEmbedInterp 32×32 → 32×32 is the identity (no kernel)',
  async run(gpu) {
    const D = 4;
    const pos = randomArray((32 * 32 + 1) * D, 1100);
    const plan = createPlan(gpu, 'identity');
    const ref = input(plan, 'pos', [1, 32 * 32 + 1, D]);
    const same = { gridH: 32, gridW: 32, outH: 32, outW: 32 };
    const out = posEmbedInterp(plan, ref, same);
    if (out !== ref || plan.ops.length !== 0) throw new Error('identity resize recorded an op');
    return compare(this.name, pos, posEmbedInterpReference(pos, same, D), 0, 0);
  },
};

export const checks: KernelCheck[] = [...resizeChecks, identityCheck];
