import { softmax, softmaxReference } from './softmax.js';
import { runOnce } from '../runtime/run-once.js';
import { compare, needsSubgroups, randomArray, rng, type KernelCheck } from './check-harness.js';
import { ROW_REDUCES } from './layernorm.js';

interface Case {
  rows: number;
  cols: number;
  /** Builds the input; default uniform in [-4, 4). */
  make?: (rows: number, cols: number, seed: number) => Float32Array;
  what?: string;
}

/** Rows in the hundreds to tens of thousands, one dominant value per row, and a constant row. */
function massive(rows: number, cols: number, seed: number): Float32Array {
  const x = randomArray(rows * cols, seed, -300, 300);
  const r = rng(seed + 1);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    if (i === rows - 1) x.fill(5000, o, o + cols); // constant large row: exactly uniform
    else x[o + Math.floor(r() * cols)] = (i % 2 ? -1 : 1) * 20000 * (1 + r()); // huge peak (or dip)
  }
  return x;
}

// Ragged widths (not multiples of any thread count), small C packed several rows per workgroup, and a
// row count that leaves the last workgroup partly empty.
const cases: Case[] = [
  { rows: 5, cols: 1 },
  { rows: 300, cols: 3 },
  { rows: 5, cols: 257 },
  { rows: 3, cols: 1025 },
  { rows: 2, cols: 4099 },
  { rows: 7, cols: 1025, make: massive, what: 'large magnitude ±2e4' },
  { rows: 4, cols: 33, make: (r, c, s) => randomArray(r * c, s, -800, 800), what: 'uniform ±800' },
];

// Every case runs for both reductions (the subgroup one applies to rows of ≥ 1024 values: cols 1025, 4099).
export const checks: KernelCheck[] = ROW_REDUCES.flatMap((reduce) => cases.map(({ rows, cols, make, what }, i): KernelCheck => ({
  name: `softmax ${reduce} [${rows}, ${cols}]${what ? ` ${what}` : ''}`,
  async run(gpu) {
    const skip = needsSubgroups(gpu, this.name, reduce);
    if (skip) return skip;
    const x = (make ?? ((r: number, c: number, s: number) => randomArray(r * c, s, -4, 4)))(rows, cols, 300 + i);
    const out = await runOnce(gpu, { x: { data: x, shape: [rows, cols] } }, (plan, { x }) => ({ y: softmax(plan, x!, 'softmax', reduce) }));
    return compare(this.name, out.y as Float32Array, softmaxReference(x, rows, cols));
  },
})));
