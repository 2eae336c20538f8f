// Pillow-bicubic resize, tile normalization and whole preprocessing plans on the GPU vs the CPU
// references (src/kernels/resize.ts mirrors Pillow's integer passes; the Node test proves that
// reference equals Pillow on fixtures). Browser-safe: random images only, no files.
import { normalizeTiles, normalizeTilesReference } from './normalize.js';
import { resizeBicubic, resizeBicubicReference, resizeBicubicView, wholeImage } from './resize.js';
import { preprocessLayout, preprocessReference, recordPreprocess, type PreprocessOptions } from '../model/preprocess.js';
import { runOnce } from '../runtime/run-once.js';
import { intermediate } from '../runtime/plan.js';
import { decodeImage } from '../model/image.js';
import { compare, rng, skipped, type KernelCheck } from './check-harness.js';

/** Deterministic RGBA test image: gradients + noise + a hard-edged block (drives overshoot/clipping). */
export function randomImage(w: number, h: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      const edge = x > w / 3 && x < (2 * w) / 3 && y > h / 4 && y < h / 2;
      out[i] = edge ? 255 : Math.min(255, Math.floor((255 * x) / Math.max(1, w - 1) * 0.7 + 77 * r()));
      out[i + 1] = edge ? 0 : Math.floor(256 * r());
      out[i + 2] = edge ? 255 : Math.floor((255 * y) / Math.max(1, h - 1));
      out[i + 3] = Math.floor(256 * r()); // alpha: must be ignored
    }
  }
  return out;
}

function words(bytes: Uint8Array): Uint32Array {
  return new Uint32Array(bytes.slice().buffer);
}

function bytesOf(u: Uint32Array): Uint8Array {
  return new Uint8Array(u.buffer, u.byteOffset, u.byteLength);
}

// (in → out): up, down (many taps), mixed, one axis unchanged (Pillow skips that pass), 1-pixel
// outputs, sizes that are not multiples of the 64×4 workgroup, and a 20× downscale (81 taps).
const resizeCases: [number, number, number, number][] = [
  [37, 23, 84, 56], [64, 48, 28, 28], [23, 61, 28, 84], [100, 25, 112, 28], [50, 40, 50, 77],
  [50, 40, 13, 40], [31, 17, 1, 1], [9, 5, 200, 3], [1000, 7, 50, 9], [130, 70, 129, 71], [2, 2, 3, 1025],
];

const resizeChecks: KernelCheck[] = resizeCases.map(([iw, ih, ow, oh], i) => ({
  name: `resize bicubic ${iw}×${ih} → ${ow}×${oh} (Pillow integer passes, exact)`,
  async run(gpu) {
    const img = randomImage(iw, ih, 500 + i);
    const out = await runOnce(gpu, { image: { data: words(img), shape: [ih, iw], dtype: 'u32' } },
      (plan, { image }) => ({ y: resizeBicubic(plan, image!, ow, oh) }));
    return compare(this.name, bytesOf(out.y as Uint32Array), resizeBicubicReference(img, iw, ih, ow, oh), 0, 0);
  },
}));

// Only a window of the output computed (the CLIP center crop), including windows where one pass is skipped.
const windowCases: [number, number, number, number, number, number, number, number][] = [
  [37, 23, 45, 28, 8, 0, 28, 28], [23, 61, 28, 74, 0, 23, 28, 28], [120, 90, 37, 28, 4, 0, 28, 28], [28, 50, 28, 50, 0, 11, 28, 28],
  [40, 30, 40, 61, 5, 9, 17, 20],
];
const windowChecks: KernelCheck[] = windowCases.map(([iw, ih, ow, oh, x0, y0, w, h], i) => ({
  name: `resize window ${w}×${h} at (${x0}, ${y0}) of ${iw}×${ih} → ${ow}×${oh}, then normalize`,
  async run(gpu) {
    const img = randomImage(iw, ih, 600 + i);
    const S = Math.min(w, h);
    const out = await runOnce(gpu, { image: { data: words(img), shape: [ih, iw], dtype: 'u32' } }, (plan, { image }) => {
      const view = resizeBicubicView(plan, wholeImage(image!), ow, oh, { x0, y0, width: w, height: h });
      const pv = intermediate(plan, [1, 3, S, S], 'f32', 'pv');
      normalizeTiles(plan, view, pv, { tile: 0 });
      return { pv };
    });
    const full = resizeBicubicReference(img, iw, ih, ow, oh);
    const want = normalizeTilesReference(full, ow, S, { x0, y0 });
    return compare(this.name, out.pv as Float32Array, want, 1e-6, 0);
  },
}));

// Whole plans: tiles + thumbnail, CLIP crop, squash; random images, small S.
const planCases: [number, number, PreprocessOptions][] = [
  [53, 31, { mode: 'internvl', size: 28, maxTiles: 6 }],
  [19, 70, { mode: 'internvl', size: 20, minTiles: 2, maxTiles: 5, thumbnail: true }],
  [64, 64, { mode: 'internvl', size: 16, maxTiles: 4, thumbnail: false }],
  [45, 33, { mode: 'clip', size: 28 }],
  [33, 90, { mode: 'clip', size: 28, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }],
  [77, 12, { mode: 'none', size: 24 }],
];
const planChecks: KernelCheck[] = planCases.map(([w, h, opts], i) => ({
  name: `preprocess plan ${w}×${h} ${JSON.stringify(opts)}`,
  async run(gpu) {
    const img = randomImage(w, h, 700 + i);
    const layout = preprocessLayout(w, h, opts);
    const out = await runOnce(gpu, { image: { data: words(img), shape: [h, w], dtype: 'u32' } },
      (plan, { image }) => ({ pv: recordPreprocess(plan, image!, layout) }));
    const want = preprocessReference({ width: w, height: h, data: img, name: 'random' }, opts).pixelValues;
    return compare(`${this.name} → ${layout.tiles} tiles`, out.pv as Float32Array, want, 1e-6, 0);
  },
}));

// A source over the storage binding limit is preprocessed from row bands (resizeBicubicBands): each
// band its own input, the horizontal pass per band. Ragged last bands; the clip crop skips bands.
const bandCases: [number, number, PreprocessOptions, number][] = [
  [45, 33, { mode: 'internvl', size: 16, maxTiles: 4 }, 7],
  [33, 90, { mode: 'clip', size: 28 }, 16],
  [77, 12, { mode: 'none', size: 24 }, 5],
];
const bandChecks: KernelCheck[] = bandCases.map(([w, h, opts, rows], i) => ({
  name: `preprocess plan from ${Math.ceil(h / rows)} row bands ${w}×${h} ${JSON.stringify(opts)}`,
  async run(gpu) {
    const img = randomImage(w, h, 750 + i);
    const layout = preprocessLayout(w, h, opts);
    const all = words(img);
    const inputs: Record<string, { data: Uint32Array; shape: number[]; dtype: 'u32' }> = {};
    for (let y = 0; y < h; y += rows) inputs[`band${y}`] = { data: all.subarray(y * w, Math.min(h, y + rows) * w), shape: [Math.min(rows, h - y), w], dtype: 'u32' };
    const out = await runOnce(gpu, inputs, (plan, refs) => ({
      pv: recordPreprocess(plan, { width: w, height: h, bands: Object.keys(inputs).map((k) => ({ ref: refs[k]!, y0: Number(k.slice(4)) })) }, layout),
    }));
    const want = preprocessReference({ width: w, height: h, data: img, name: 'random' }, opts).pixelValues;
    return compare(`${this.name} → ${layout.tiles} tiles`, out.pv as Float32Array, want, 1e-6, 0);
  },
}));

// Decoding: a PNG made here (stored deflate blocks, so no zlib is needed) must decode to its exact
// pixels, through pngjs in Node and createImageBitmap + OffscreenCanvas in a browser; canvas and
// bitmap inputs (browser only) must read back exactly.
function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

export function encodePngRgb(w: number, h: number, rgba: Uint8Array): Uint8Array {
  const raw = new Uint8Array(h * (1 + w * 3));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) raw.set(rgba.subarray((y * w + x) * 4, (y * w + x) * 4 + 3), y * (1 + w * 3) + 1 + x * 3);
  }
  const blocks: number[] = [0x78, 0x01];
  for (let pos = 0; pos < raw.length || pos === 0; pos += 65535) {
    const n = Math.min(65535, raw.length - pos);
    blocks.push(pos + n >= raw.length ? 1 : 0, n & 255, n >> 8, ~n & 255, (~n >> 8) & 255, ...raw.subarray(pos, pos + n));
    if (n === 0) break;
  }
  let a = 1, b = 0;
  for (const v of raw) { a = (a + v) % 65521; b = (b + a) % 65521; }
  blocks.push(b >> 8, b & 255, a >> 8, a & 255);
  const chunk = (type: string, data: number[] | Uint8Array) => {
    const body = new Uint8Array([...Array.from(type, (ch) => ch.charCodeAt(0)), ...data]);
    const len = data.length;
    const crc = crc32(body);
    return [len >>> 24, (len >> 16) & 255, (len >> 8) & 255, len & 255, ...body, crc >>> 24, (crc >> 16) & 255, (crc >> 8) & 255, crc & 255];
  };
  const be32 = (v: number) => [v >>> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255];
  return new Uint8Array([
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a,
    ...chunk('IHDR', [...be32(w), ...be32(h), 8, 2, 0, 0, 0]),
    ...chunk('IDAT', blocks),
    ...chunk('IEND', []),
  ]);
}

function opaque(img: Uint8Array): Uint8Array {
  const o = img.slice();
  for (let i = 3; i < o.length; i += 4) o[i] = 255;
  return o;
}

const decodeChecks: KernelCheck[] = [
  {
    name: 'decode PNG bytes (41×29 RGB) to exact pixels',
    async run() {
      const pixels = opaque(randomImage(41, 29, 900));
      const img = await decodeImage(encodePngRgb(41, 29, pixels), 'generated.png');
      if (img.width !== 41 || img.height !== 29) throw new Error(`decoded ${img.width}×${img.height}, want 41×29`);
      return compare(this.name, img.data, pixels, 0, 0);
    },
  },
  {
    name: 'decode OffscreenCanvas and ImageBitmap inputs to exact pixels (browser)',
    async run() {
      if (typeof OffscreenCanvas === 'undefined' || typeof createImageBitmap === 'undefined') {
        return skipped(this.name, 'no OffscreenCanvas/createImageBitmap here (Node); runs in the browser page');
      }
      const pixels = opaque(randomImage(23, 17, 901));
      const canvas = new OffscreenCanvas(23, 17);
      canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(pixels), 23, 17), 0, 0);
      const fromCanvas = await decodeImage(canvas);
      const bitmap = await createImageBitmap(canvas);
      const fromBitmap = await decodeImage(bitmap);
      bitmap.close();
      const got = new Uint8Array([...fromCanvas.data, ...fromBitmap.data]);
      return compare(this.name, got, new Uint8Array([...pixels, ...pixels]), 0, 0);
    },
  },
  {
    name: 'decode ImageData, HTMLCanvasElement, HTMLImageElement and VideoFrame inputs to exact pixels (browser)',
    async run() {
      const doc = (globalThis as { document?: Document }).document;
      if (!doc || typeof VideoFrame === 'undefined' || typeof OffscreenCanvas === 'undefined') {
        return skipped(this.name, 'no DOM, OffscreenCanvas or VideoFrame here (Node); runs in the browser page');
      }
      const pixels = opaque(randomImage(19, 13, 902));
      const imageData = new ImageData(new Uint8ClampedArray(pixels), 19, 13);
      const canvas = doc.createElement('canvas');
      canvas.width = 19;
      canvas.height = 13;
      canvas.getContext('2d')!.putImageData(imageData, 0, 0);
      // An <img> from a PNG of the same pixels (PNG is lossless and carries no colour profile here).
      const off = new OffscreenCanvas(19, 13);
      off.getContext('2d')!.putImageData(imageData, 0, 0);
      const url = URL.createObjectURL(await off.convertToBlob({ type: 'image/png' }));
      const img = doc.createElement('img');
      img.src = url;
      await img.decode();
      const frame = new VideoFrame(canvas, { timestamp: 0 });
      const decoded = [
        await decodeImage(imageData), await decodeImage(canvas), await decodeImage(img), await decodeImage(frame),
      ];
      frame.close();
      URL.revokeObjectURL(url);
      const got = new Uint8Array(decoded.flatMap((d) => [...d.data]));
      return compare(this.name, got, new Uint8Array(decoded.flatMap(() => [...pixels])), 0, 0);
    },
  },
];

export const checks: KernelCheck[] = [...resizeChecks, ...windowChecks, ...planChecks, ...bandChecks, ...decodeChecks];
