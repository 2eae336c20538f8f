import { gelu, geluReference } from './gelu.js';
import { runOnce } from '../runtime/run-once.js';
import { compare, randomArray, type KernelCheck } from './check-harness.js';

// Ragged counts (not multiples of the 256-thread workgroup) and a wide range that crosses both erf branches.
const cases = [
  { n: 1, lo: -1, hi: 1 },
  { n: 257, lo: -6, hi: 6 },
  { n: 1025 * 7, lo: -12, hi: 12 },
  { n: 4096, lo: -0.02, hi: 0.02 },
];

export const checks: KernelCheck[] = cases.map(({ n, lo, hi }, i) => ({
  name: `gelu n=${n} range ±${hi}`,
  async run(gpu) {
    const x = randomArray(n, 100 + i, lo, hi);
    const out = await runOnce(gpu, { x: { data: x, shape: [n] } }, (plan, { x }) => ({ y: gelu(plan, x!) }));
    // Tighter than the model tolerance: the erf itself must be good to a few ulp.
    return compare(this.name, out.y as Float32Array, geluReference(x), 1e-6, 1e-6);
  },
}));
