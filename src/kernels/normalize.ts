// Tiles of a packed RGBA8 image → normalized float pixel_values (T, 3, S, S), written in place at
// a tile offset so several dispatches (the tiles, then the thumbnail) fill one tensor. The uint8 →
// float map is a 3 × 256 table built here with the reference pipeline's float32 arithmetic, so the
// GPU result is bit-identical to torchvision / Transformers (no reliance on GPU division rounding).
import source from '../../shaders/normalize.wgsl?raw';
import { defineKernel } from '../runtime/kernel.js';
import { dispatch, hostConstant, type Plan, type TensorRef } from '../runtime/plan.js';
import { ceilDiv } from './dispatch.js';
import type { ImageView } from './resize.js';

export const normalizeKernel = defineKernel({ name: 'normalize', source });

/** ImageNet statistics, used by InternViT/InternVL. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/**
 * How uint8 becomes [0, 1] before (x − mean)/std:
 * 'divide'   torchvision ToTensor: float32(v) / 255 in float32 (InternVL's build_transform);
 * 'multiply' Transformers rescale: v · (1/255) in float64, then cast to float32 (CLIPImageProcessor).
 */
export type Rescale = 'divide' | 'multiply';

/** lut[c·256 + v]: each step rounded to float32 as the reference does (Math.fround of a double op is the correctly rounded float op). */
export function normalizeTable(mean: readonly number[] = IMAGENET_MEAN, std: readonly number[] = IMAGENET_STD, rescale: Rescale = 'divide'): Float32Array {
  checkStats(mean, std, 'normalize');
  const f = Math.fround;
  const lut = new Float32Array(768);
  for (let c = 0; c < 3; c++) {
    const m = f(mean[c]!);
    const s = f(std[c]!);
    for (let v = 0; v < 256; v++) {
      const x = rescale === 'divide' ? f(v / 255) : f(v * (1 / 255));
      lut[c * 256 + v] = f(f(x - m) / s);
    }
  }
  return lut;
}

function checkStats(mean: readonly number[], std: readonly number[], label: string): void {
  if (mean.length !== 3 || std.length !== 3 || mean.some((m) => !Number.isFinite(m)) || std.some((s) => !(s > 0) || !Number.isFinite(s))) {
    throw new Error(`${label}: mean and std need 3 finite values each, std > 0 (got mean [${mean}], std [${std}])`);
  }
}

export interface NormalizeOptions {
  /** First tile of pixel_values this call writes. */
  tile: number;
  /** Tiles to cut, row-major over `cols` columns of S×S blocks starting at the view's origin. */
  count?: number;
  cols?: number;
  mean?: readonly number[];
  std?: readonly number[];
  rescale?: Rescale;
  label?: string;
}

/**
 * Records: for k < count, tile `tile + k` of pixelValues (a (T, 3, S, S) f32 tensor) = the S×S block
 * (k % cols, ⌊k / cols⌋) of `src`, normalized per channel.
 */
export function normalizeTiles(plan: Plan, src: ImageView, pixelValues: TensorRef, opts: NormalizeOptions): void {
  const label = opts.label ?? 'normalize';
  const [T, C, S, S2] = pixelValues.shape as [number, number, number, number];
  if (pixelValues.shape.length !== 4 || C !== 3 || S !== S2 || pixelValues.dtype !== 'f32') {
    throw new Error(`${label}: pixel_values must be (T, 3, S, S) f32, got [${pixelValues.shape.join(', ')}] ${pixelValues.dtype}`);
  }
  const count = opts.count ?? 1;
  const cols = opts.cols ?? 1;
  const rows = Math.ceil(count / cols);
  if (!Number.isInteger(opts.tile) || opts.tile < 0 || count < 1 || opts.tile + count > T) {
    throw new Error(`${label}: tiles ${opts.tile}..${opts.tile + count - 1} do not fit in ${T} tiles`);
  }
  if (cols * S > src.width || rows * S > src.height) {
    throw new Error(`${label}: ${cols}×${rows} tiles of ${S} px need ${cols * S}×${rows * S} pixels, the image view has ${src.width}×${src.height}`);
  }
  const lut = hostConstant(plan, `${label}.lut`, normalizeTable(opts.mean, opts.std, opts.rescale), [3, 256], 'f32');
  dispatch(plan, {
    kernel: normalizeKernel, label,
    bindings: { src: src.ref, lut, pixel_values: pixelValues },
    constants: { SRC_STRIDE: src.stride, X0: src.x0, Y0: src.y0, S, COLS: cols, TILES: count, T0: opts.tile },
    workgroups: [ceilDiv(S, 64), ceilDiv(S, 4), count],
  });
}

/**
 * Float64 reference: tiles of an RGBA byte image (rows of `stride` pixels), (v/255 − mean)/std,
 * (count, 3, S, S).
 */
export function normalizeTilesReference(
  rgba: Uint8Array, stride: number, S: number,
  opts: { x0?: number; y0?: number; count?: number; cols?: number; mean?: readonly number[]; std?: readonly number[] } = {},
): Float64Array {
  const { x0 = 0, y0 = 0, count = 1, cols = 1, mean = IMAGENET_MEAN, std = IMAGENET_STD } = opts;
  const out = new Float64Array(count * 3 * S * S);
  for (let k = 0; k < count; k++) {
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const p = ((y0 + Math.floor(k / cols) * S + y) * stride + x0 + (k % cols) * S + x) * 4;
        for (let c = 0; c < 3; c++) out[((k * 3 + c) * S + y) * S + x] = (rgba[p + c]! / 255 - mean[c]!) / std[c]!;
      }
    }
  }
  return out;
}
