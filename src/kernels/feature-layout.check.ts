import { featureLayout, featureLayoutReference } from './feature-layout.js';
import { runOnce } from '../runtime/run-once.js';
import { compare, randomArray, type KernelCheck } from './check-harness.js';

// Grids InternVL picks (1×4, 4×2, 3×2, 1×1) with a thumbnail tile after them, the thumbnail alone,
// and the unstitched stack; ragged patch grids and channel counts.
const cases: { name: string; tiles: number; h: number; w: number; d: number; first?: number; rows?: number; cols?: number; maps?: number }[] = [
  { name: 'stitch 1×4 + thumb', tiles: 5, h: 2, w: 2, d: 5, rows: 1, cols: 4 },
  { name: 'stitch 4×2 + thumb', tiles: 9, h: 3, w: 3, d: 7, rows: 4, cols: 2 },
  { name: 'stitch 3×2 + thumb', tiles: 7, h: 2, w: 3, d: 3, rows: 3, cols: 2 },
  { name: 'stitch 1×1', tiles: 1, h: 32, w: 32, d: 9 },
  { name: 'thumbnail of 3×2', tiles: 7, h: 2, w: 3, d: 3, first: 6 },
  { name: 'unstitched', tiles: 7, h: 2, w: 3, d: 3, maps: 7 },
];

export const checks: KernelCheck[] = cases.map((c, i) => ({
  name: `feature_layout ${c.name}: T=${c.tiles} patches ${c.h}×${c.w} D=${c.d}`,
  async run(gpu) {
    const x = randomArray(c.tiles * (1 + c.h * c.w) * c.d, 900 + i);
    const opts = { first: c.first, rows: c.rows, cols: c.cols, maps: c.maps };
    const out = await runOnce(gpu, { x: { data: x, shape: [c.tiles, 1 + c.h * c.w, c.d] } },
      (plan, { x }) => ({ y: featureLayout(plan, x!, { patchRows: c.h, patchCols: c.w, ...opts }) }));
    // A gather: exact equality expected.
    return compare(this.name, out.y as Float32Array, featureLayoutReference(x, c.tiles, c.h, c.w, c.d, opts), 0, 0);
  },
}));
