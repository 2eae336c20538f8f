// Encoder tokens → channel-first patch-feature maps (CLS dropped): InternVL's grid tiles stitched back
// into the image's layout, the thumbnail's map, or every tile's map unstitched.
import source from '../../shaders/feature_layout.wgsl?raw';
import { defineKernel } from '../runtime/kernel.js';
import { dispatch, intermediate, type Plan, type TensorRef } from '../runtime/plan.js';
import { ceilDiv, grid1D } from './dispatch.js';

export const featureLayoutKernel = defineKernel({ name: 'feature_layout', source });

export interface FeatureLayoutOptions {
  /** Patch grid of one tile (rows H, cols W): tokens are 1 + H·W per tile. */
  patchRows: number;
  patchCols: number;
  /** First tile used (default 0). */
  first?: number;
  /** Tiles stitched into one map: rows × cols, row-major (default 1×1). */
  rows?: number;
  cols?: number;
  /** Maps made (default 1); map b stitches tiles first + b·rows·cols onwards. */
  maps?: number;
}

/** x [T, 1 + H·W, D] → [maps, D, rows·H, cols·W]. */
export function featureLayout(plan: Plan, x: TensorRef, opts: FeatureLayoutOptions, label = 'feature_layout'): TensorRef {
  const { patchRows: h, patchCols: w, first = 0, rows = 1, cols = 1, maps = 1 } = opts;
  const [tiles, tokens, d] = x.shape as [number, number, number];
  if (x.shape.length !== 3 || tokens !== 1 + h * w) {
    throw new Error(`${label}: expects [T, 1 + ${h}·${w}, D] tokens, got [${x.shape.join(', ')}]`);
  }
  for (const [k, v] of Object.entries({ first, rows, cols, maps })) {
    if (!Number.isInteger(v) || v < (k === 'first' ? 0 : 1)) throw new Error(`${label}: ${k} must be a ${k === 'first' ? 'non-negative' : 'positive'} integer (got ${v})`);
  }
  if (first + maps * rows * cols > tiles) {
    throw new Error(`${label}: ${maps} map(s) of ${rows}×${cols} tiles from tile ${first} need ${first + maps * rows * cols} tiles, the input has ${tiles}`);
  }
  const shape = [maps, d, rows * h, cols * w];
  const count = shape.reduce((a, b) => a * b, 1);
  const y = intermediate(plan, shape, 'f32', label);
  dispatch(plan, {
    kernel: featureLayoutKernel, label,
    bindings: { x, y },
    elements: { x: tiles * tokens * d, y: count },
    constants: { FIRST: first, B: maps, GR: rows, GC: cols, H: h, W: w, D: d },
    workgroups: grid1D(ceilDiv(count, 256), plan.gpu.limits.maxComputeWorkgroupsPerDimension),
  });
  return y;
}

/**
 * The same layout on the CPU, written the other way round from the shader: it walks the tiles and
 * their tokens and scatters each token's D values to the cell the tile's position puts it in.
 */
export function featureLayoutReference(x: ArrayLike<number>, tiles: number, h: number, w: number, d: number, opts: Omit<FeatureLayoutOptions, 'patchRows' | 'patchCols'> = {}): Float64Array {
  const { first = 0, rows = 1, cols = 1, maps = 1 } = opts;
  const oh = rows * h, ow = cols * w;
  const y = new Float64Array(maps * d * oh * ow);
  for (let b = 0; b < maps; b++) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const tile = first + b * rows * cols + r * cols + c;
        if (tile >= tiles) throw new Error(`featureLayoutReference: tile ${tile} out of ${tiles}`);
        for (let a = 0; a < h; a++) {
          for (let e = 0; e < w; e++) {
            const src = (tile * (1 + h * w) + 1 + a * w + e) * d;
            for (let k = 0; k < d; k++) y[((b * d + k) * oh + r * h + a) * ow + c * w + e] = x[src + k]!;
          }
        }
      }
    }
  }
  return y;
}
