import { pixelShuffle, pixelShuffleReference, type PsVersion } from './pixel-shuffle.js';
import { runOnce } from '../runtime/run-once.js';
import { compare, randomArray, type KernelCheck } from './check-harness.js';

const cases: { b: number; gh: number; gw: number; c: number; v: PsVersion }[] = [
  { b: 1, gh: 32, gw: 32, c: 8, v: 'v2' },   // a 448 tile's grid, narrow channels
  { b: 2, gh: 4, gw: 6, c: 5, v: 'v2' },     // non-square, ragged channels
  { b: 2, gh: 4, gw: 6, c: 5, v: 'v1' },
  { b: 3, gh: 2, gw: 2, c: 3, v: 'v1' },
];

export const checks: KernelCheck[] = cases.map(({ b, gh, gw, c, v }, i) => ({
  name: `pixel_shuffle ${v} B=${b} grid ${gh}×${gw} C=${c}`,
  async run(gpu) {
    const n = b * (1 + gh * gw) * c;
    const x = randomArray(n, 300 + i);
    const out = await runOnce(gpu, { x: { data: x, shape: [b, 1 + gh * gw, c] } },
      (plan, { x }) => ({ y: pixelShuffle(plan, x!, { gridH: gh, gridW: gw, version: v }) }));
    // A gather: exact equality expected.
    return compare(this.name, out.y as Float32Array, pixelShuffleReference(x, b, gh, gw, c, v), 0, 0);
  },
}));
