// Per-cell results (PCA colours, similarity, cluster labels) → RGBA pixels at the source image's size,
// upscaled nearest: each pixel takes the colour of the feature cell whose rectangle holds its centre.
// Pixels no cell covers (outside a 'clip' crop) are transparent. The output is ImageData-shaped
// ({ data: Uint8ClampedArray RGBA, width, height }): `new ImageData(r.data, r.width, r.height)` in a
// browser, a PNG encoder in Node. Browser-safe.
import { pca, type FeatureGrid, type PcaResult } from './analysis.js';

/** A rectangle in source-image pixels (fractional: cells rarely fall on whole pixels). */
export interface Rect { x: number; y: number; width: number; height: number }

/** Where a map lies on its image: the source size and the rectangle its cells cover (FeatureMapMeta). */
export interface MapPlacement {
  image: { width: number; height: number };
  region: Rect;
}

export interface RgbaImage {
  data: Uint8ClampedArray<ArrayBuffer>;
  width: number;
  height: number;
}

/** The cell (row, col) of a rows×cols map under source pixel (px, py), or null outside the map. */
export function cellAtPixel(place: MapPlacement, rows: number, cols: number, px: number, py: number): { y: number; x: number } | null {
  const { region } = place;
  const x = Math.floor(((px + 0.5 - region.x) * cols) / region.width);
  const y = Math.floor(((py + 0.5 - region.y) * rows) / region.height);
  return x >= 0 && x < cols && y >= 0 && y < rows ? { y, x } : null;
}

/** Cell colours (rows·cols RGBA, row-major) upscaled nearest to the image's size. */
export function upscaleCells(cells: Uint8ClampedArray, rows: number, cols: number, place: MapPlacement): RgbaImage {
  if (cells.length !== rows * cols * 4) throw new Error(`upscaleCells: ${cells.length} bytes is not ${rows}×${cols} RGBA cells`);
  const { width, height } = place.image;
  const data = new Uint8ClampedArray(width * height * 4);
  const colOf = Int32Array.from({ length: width }, (_, px) => cellAtPixel(place, 1, cols, px, place.region.y)?.x ?? -1);
  for (let py = 0; py < height; py++) {
    const y = cellAtPixel(place, rows, 1, place.region.x, py)?.y ?? -1;
    if (y < 0) continue;
    for (let px = 0; px < width; px++) {
      const x = colOf[px]!;
      if (x < 0) continue;
      data.set(cells.subarray((y * cols + x) * 4, (y * cols + x) * 4 + 4), (py * width + px) * 4);
    }
  }
  return { data, width, height };
}

/**
 * PCA projections (cells × p.k, default p.projections) → RGB: component c in channel c, each stretched
 * min..max over the cells to 0..255.
 */
export function pcaCellColors(p: Pick<PcaResult, 'projections' | 'k'>, cells: number): Uint8ClampedArray<ArrayBuffer> {
  if (p.projections.length !== cells * p.k) throw new Error(`pcaCellColors: ${p.projections.length} projections is not ${cells} cells × ${p.k}`);
  const out = new Uint8ClampedArray(cells * 4);
  for (let c = 0; c < 3; c++) {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < cells; i++) { const v = c < p.k ? p.projections[i * p.k + c]! : 0; lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const scale = hi > lo ? 255 / (hi - lo) : 0;
    for (let i = 0; i < cells; i++) out[i * 4 + c] = c < p.k ? Math.round((p.projections[i * p.k + c]! - lo) * scale) : 0;
  }
  for (let i = 0; i < cells; i++) out[i * 4 + 3] = 255;
  return out;
}

// A perceptually ordered dark-blue → teal → yellow ramp (viridis' anchor colours), linear between.
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]] as const;

/** Values in [lo, hi] (clamped) → the ramp's colour; similarity uses −1..1. */
export function heatCellColors(values: ArrayLike<number>, lo = -1, hi = 1): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(values.length * 4);
  for (let i = 0; i < values.length; i++) {
    const t = Math.min(1, Math.max(0, (values[i]! - lo) / (hi - lo))) * (RAMP.length - 1);
    const a = Math.min(RAMP.length - 2, Math.floor(t)), f = t - a;
    for (let c = 0; c < 3; c++) out[i * 4 + c] = Math.round(RAMP[a]![c]! * (1 - f) + RAMP[a + 1]![c]! * f);
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** Cluster labels → distinct colours (golden-angle hues), the same colour for a label everywhere. */
export function labelCellColors(labels: ArrayLike<number>): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(labels.length * 4);
  for (let i = 0; i < labels.length; i++) {
    const [r, g, b] = hsv(((labels[i]! * 137.508) % 360) / 60, 0.65, 0.95);
    out.set([r, g, b, 255], i * 4);
  }
  return out;
}

function hsv(h: number, s: number, v: number): [number, number, number] {
  const f = (n: number) => { const k = (n + h) % 6; return Math.round(255 * (v - v * s * Math.max(0, Math.min(k, 4 - k, 1)))); };
  return [f(5), f(3), f(1)];
}

/** `over` blended on `base` (same size) with opacity `alpha` where `over` is opaque; base shows elsewhere. */
export function blendOver(base: RgbaImage | { data: Uint8Array | Uint8ClampedArray; width: number; height: number }, over: RgbaImage, alpha = 0.6): RgbaImage {
  if (base.width !== over.width || base.height !== over.height) {
    throw new Error(`blendOver: image ${base.width}×${base.height} and overlay ${over.width}×${over.height} differ in size`);
  }
  const data = new Uint8ClampedArray(over.data.length);
  for (let i = 0; i < data.length; i += 4) {
    const a = (alpha * over.data[i + 3]!) / 255;
    for (let c = 0; c < 3; c++) data[i + c] = Math.round(base.data[i + c]! * (1 - a) + over.data[i + c]! * a);
    data[i + 3] = 255;
  }
  return { data, width: over.width, height: over.height };
}

/**
 * The demo page's PCA picture of one (D, H, W) map (e.g. imageGrid(patchFeatureGrid(lastHiddenState), 0) or
 * featureMap().features): its top three components as RGB, one pixel per cell (W × H), or upscaled
 * onto the image when `place` (a FeatureMapMeta: image size and region) is given.
 */
export function pcaPicture(map: FeatureGrid, place?: MapPlacement): RgbaImage {
  const [D, rows, cols] = map.shape as [number, number, number];
  // A bad shape gets pca's own error; k = 3 unless the map is too small for three components.
  const p = pca(map, map.shape.length === 3 ? Math.max(1, Math.min(3, D, rows * cols)) : 3);
  const cells = pcaCellColors(p, rows * cols);
  if (place) return upscaleCells(cells, rows, cols, place);
  return { data: cells, width: cols, height: rows };
}
