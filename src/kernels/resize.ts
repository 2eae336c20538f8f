// Pillow's Image.resize(size, Image.BICUBIC) on 8-bit RGB, reproduced byte for byte.
// The weights (precompute_coeffs + normalize_coeffs_8bpc of Pillow's Resample.c) are computed here in
// float64 in the same operation order, rounded to Q22 int32 and uploaded as small tables; the two
// WGSL passes (shaders/resize_bicubic.wgsl, VERTICAL false / true) do Pillow's int32 multiply-adds. As in
// ImagingResampleInner: the horizontal pass runs first, over only the source rows the vertical pass
// will read, into an 8-bit intermediate; a pass is skipped when its dimension is unchanged.
// Pixels are RGBA8 packed in u32 (R in the low byte); alpha is ignored (InternVL converts to RGB).
import source from '../../shaders/resize_bicubic.wgsl?raw';
import { defineKernel } from '../runtime/kernel.js';
import { copy, dispatch, hostConstant, intermediate, type Plan, type TensorRef } from '../runtime/plan.js';
import { ceilDiv } from './dispatch.js';

/** Both passes: the VERTICAL override picks one (two pipelines, no runtime branch). */
export const resizeKernel = defineKernel({ name: 'resize_bicubic', source });

/** Pillow's PRECISION_BITS = 32 − 8 − 2. */
export const PRECISION_BITS = 22;
const BICUBIC_SUPPORT = 2.0;

/** Pillow's bicubic_filter (a = −0.5), same expression order. */
export function bicubicFilter(x: number): number {
  const a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

/** One axis of a resize: per output index the first source index, the tap count and the weights. */
export interface ResampleAxis {
  inSize: number;
  outSize: number;
  /** Pillow's ksize: the row stride of `weights`. */
  ksize: number;
  /** outSize × 2: first source index, number of taps. */
  bounds: Int32Array;
  /** outSize × ksize normalised float64 weights (zero past the tap count). */
  weights: Float64Array;
}

/** Pillow's precompute_coeffs for the bicubic filter and the whole source (box 0..inSize). */
export function precomputeCoeffs(inSize: number, outSize: number): ResampleAxis {
  checkSize('input', inSize);
  checkSize('output', outSize);
  // in0 and in1 are C floats in Pillow: exact for these integer sizes.
  const scale = inSize / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale;
  const support = BICUBIC_SUPPORT * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Float64Array(outSize * ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = 0 + (xx + 0.5) * scale;
    let ww = 0.0;
    const ss = 1.0 / filterscale;
    // (int) casts truncate toward zero.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    const k = xx * ksize;
    for (let x = 0; x < xmax; x++) {
      const w = bicubicFilter((x + xmin - center + 0.5) * ss);
      weights[k + x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) if (ww !== 0.0) weights[k + x] /= ww;
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { inSize, outSize, ksize, bounds, weights };
}

/** Pillow's normalize_coeffs_8bpc: round half away from zero to Q22, truncating like the (int) cast. */
export function fixedPointWeights(weights: Float64Array): Int32Array {
  const one = 1 << PRECISION_BITS;
  const out = new Int32Array(weights.length);
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!;
    out[i] = w < 0 ? Math.trunc(-0.5 + w * one) : Math.trunc(0.5 + w * one);
  }
  return out;
}

function checkSize(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`resize: ${what} size must be a positive integer (got ${n})`);
  if (n > 1 << 20) throw new Error(`resize: ${what} size ${n} is larger than supported (${1 << 20})`);
}

/** Source indices [first, end) read by output indices start .. start + length − 1. */
export function sourceSpan(axis: ResampleAxis, start: number, length: number): [number, number] {
  let first = Infinity;
  let end = -Infinity;
  for (let o = start; o < start + length; o++) {
    const b = axis.bounds[o * 2]!;
    first = Math.min(first, b);
    end = Math.max(end, b + axis.bounds[o * 2 + 1]!);
  }
  return [first, end];
}

/**
 * The GPU table for output indices start .. start + length − 1: rows of (first − shift, count,
 * `taps` Q22 weights), taps = the largest count in the window (Pillow's ksize can be larger).
 */
export function resampleTable(axis: ResampleAxis, start = 0, length = axis.outSize, shift = 0): { taps: number; table: Int32Array } {
  if (start < 0 || length < 1 || start + length > axis.outSize) {
    throw new Error(`resize: window ${start}..${start + length} outside the ${axis.outSize} outputs`);
  }
  const fixed = fixedPointWeights(axis.weights);
  let taps = 1;
  for (let o = start; o < start + length; o++) taps = Math.max(taps, axis.bounds[o * 2 + 1]!);
  const stride = taps + 2;
  const table = new Int32Array(length * stride);
  for (let i = 0; i < length; i++) {
    const o = start + i;
    const first = axis.bounds[o * 2]! - shift;
    if (first < 0) throw new Error(`resize: table shift ${shift} past the first source index ${axis.bounds[o * 2]}`);
    const count = axis.bounds[o * 2 + 1]!;
    table[i * stride] = first;
    table[i * stride + 1] = count;
    for (let k = 0; k < count; k++) table[i * stride + 2 + k] = fixed[o * axis.ksize + k]!;
  }
  return { taps, table };
}

// ---------------------------------------------------------------------------------------------
// CPU reference: Pillow's integer passes on RGBA bytes (float64 weights → Q22 → int arithmetic).

function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS; // acc stays inside int32 (see the WGSL header)
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Pillow's Image.resize((outW, outH), BICUBIC) on RGB data given as RGBA bytes (alpha ignored);
 * returns RGBA bytes with alpha 255.
 */
export function resizeBicubicReference(rgba: Uint8Array | Uint8ClampedArray, inW: number, inH: number, outW: number, outH: number): Uint8Array {
  if (rgba.length !== inW * inH * 4) throw new Error(`resizeBicubicReference: ${rgba.length} bytes is not ${inW}×${inH} RGBA`);
  const needH = outW !== inW;
  const needV = outH !== inH;
  const vert = precomputeCoeffs(inH, outH);
  const yFirst = vert.bounds[0]!;
  const yLast = vert.bounds[outH * 2 - 2]! + vert.bounds[outH * 2 - 1]!;
  let img: Uint8Array = Uint8Array.from(rgba);
  let w = inW;
  let h = inH;
  let rowOffset = 0;
  if (needH) {
    const horiz = precomputeCoeffs(inW, outW);
    const kk = fixedPointWeights(horiz.weights);
    const rows = yLast - yFirst;
    const out = new Uint8Array(outW * rows * 4);
    for (let yy = 0; yy < rows; yy++) {
      for (let xx = 0; xx < outW; xx++) {
        const xmin = horiz.bounds[xx * 2]!;
        const xmax = horiz.bounds[xx * 2 + 1]!;
        let s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
        for (let x = 0; x < xmax; x++) {
          const k = kk[xx * horiz.ksize + x]!;
          const p = ((yy + yFirst) * w + x + xmin) * 4;
          s0 += img[p]! * k;
          s1 += img[p + 1]! * k;
          s2 += img[p + 2]! * k;
        }
        const q = (yy * outW + xx) * 4;
        out[q] = clip8(s0); out[q + 1] = clip8(s1); out[q + 2] = clip8(s2); out[q + 3] = 255;
      }
    }
    img = out;
    w = outW;
    h = rows;
    rowOffset = yFirst;
  }
  if (needV) {
    const kk = fixedPointWeights(vert.weights);
    const out = new Uint8Array(w * outH * 4);
    for (let yy = 0; yy < outH; yy++) {
      const ymin = vert.bounds[yy * 2]! - rowOffset;
      const ymax = vert.bounds[yy * 2 + 1]!;
      for (let xx = 0; xx < w; xx++) {
        let s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
        for (let y = 0; y < ymax; y++) {
          const k = kk[yy * vert.ksize + y]!;
          const p = ((y + ymin) * w + xx) * 4;
          s0 += img[p]! * k;
          s1 += img[p + 1]! * k;
          s2 += img[p + 2]! * k;
        }
        const q = (yy * w + xx) * 4;
        out[q] = clip8(s0); out[q + 1] = clip8(s1); out[q + 2] = clip8(s2); out[q + 3] = 255;
      }
    }
    img = out;
    h = outH;
  }
  if (h !== outH || w !== outW) throw new Error('resizeBicubicReference: internal size mismatch');
  if (!needH && !needV) for (let i = 3; i < img.length; i += 4) img[i] = 255;
  return img;
}

// ---------------------------------------------------------------------------------------------
// Recording.

/** A rectangle of a packed RGBA8 image tensor: pixel (x, y) is element (y0 + y)·stride + x0 + x. */
export interface ImageView {
  ref: TensorRef;
  stride: number;
  x0: number;
  y0: number;
  width: number;
  height: number;
}

/** The whole of a [H, W] u32 image tensor as a view. */
export function wholeImage(ref: TensorRef): ImageView {
  if (ref.dtype !== 'u32' || ref.shape.length !== 2) {
    throw new Error(`resize: image tensor '${ref.label}' must be [H, W] u32 (packed RGBA8), got [${ref.shape.join(', ')}] ${ref.dtype}`);
  }
  return { ref, stride: ref.shape[1]!, x0: 0, y0: 0, width: ref.shape[1]!, height: ref.shape[0]! };
}

export interface ResizeWindow { x0: number; y0: number; width: number; height: number }

/**
 * Records Pillow's resize of `src` to outW × outH, computing only the output pixels in `window`
 * (default: all; the CLIP center crop uses this). Passes whose dimension is unchanged are skipped, as
 * in Pillow, so the result may be a view into an earlier tensor (or `src` itself when nothing changes).
 */
export function resizeBicubicView(plan: Plan, src: ImageView, outW: number, outH: number, window?: ResizeWindow, label = 'resize'): ImageView {
  const win = window ?? { x0: 0, y0: 0, width: outW, height: outH };
  if (win.x0 < 0 || win.y0 < 0 || win.width < 1 || win.height < 1 || win.x0 + win.width > outW || win.y0 + win.height > outH) {
    throw new Error(`${label}: window ${win.width}×${win.height} at (${win.x0}, ${win.y0}) is outside the ${outW}×${outH} output`);
  }
  const needH = outW !== src.width;
  const needV = outH !== src.height;
  const vert = needV ? precomputeCoeffs(src.height, outH) : null;
  // Source rows the vertical stage reads (all the window's rows when there is no vertical pass).
  const [rowFirst, rowEnd] = vert ? sourceSpan(vert, win.y0, win.height) : [win.y0, win.y0 + win.height];
  let cur: ImageView;
  if (needH) {
    const { taps, table } = resampleTable(precomputeCoeffs(src.width, outW), win.x0, win.width);
    const rows = rowEnd - rowFirst;
    const tab = hostConstant(plan, `${label}.h.table`, table, [win.width, taps + 2], 'i32');
    const dst = intermediate(plan, [rows, win.width], 'u32', `${label}.h`);
    dispatch(plan, {
      kernel: resizeKernel, label: `${label}.h`,
      bindings: { src: src.ref, table: tab, dst },
      elements: { table: table.length, dst: rows * win.width },
      constants: { VERTICAL: 0, SRC_STRIDE: src.stride, SRC_X0: src.x0, SRC_Y0: src.y0 + rowFirst, OUT_W: win.width, OUT_H: rows, TAPS: taps },
      workgroups: [ceilDiv(win.width, 64), ceilDiv(rows, 4)],
      flops: 6 * taps * rows * win.width,
    });
    cur = { ref: dst, stride: win.width, x0: 0, y0: 0, width: win.width, height: rows };
  } else {
    cur = { ref: src.ref, stride: src.stride, x0: src.x0 + win.x0, y0: src.y0 + rowFirst, width: win.width, height: rowEnd - rowFirst };
  }
  if (!vert) return cur;
  return verticalPass(plan, cur, vert, win, rowFirst, label);
}

/** The vertical pass over `cur` (source rows rowFirst.. of the resize), for the window's rows. */
function verticalPass(plan: Plan, cur: ImageView, vert: ResampleAxis, win: ResizeWindow, rowFirst: number, label: string): ImageView {
  const { taps, table } = resampleTable(vert, win.y0, win.height, rowFirst);
  const tab = hostConstant(plan, `${label}.v.table`, table, [win.height, taps + 2], 'i32');
  const dst = intermediate(plan, [win.height, win.width], 'u32', `${label}.v`);
  dispatch(plan, {
    kernel: resizeKernel, label: `${label}.v`,
    bindings: { src: cur.ref, table: tab, dst },
    elements: { table: table.length, dst: win.height * win.width },
    constants: { VERTICAL: 1, SRC_STRIDE: cur.stride, SRC_X0: cur.x0, SRC_Y0: cur.y0, OUT_W: win.width, OUT_H: win.height, TAPS: taps },
    workgroups: [ceilDiv(win.width, 64), ceilDiv(win.height, 4)],
    flops: 6 * taps * win.height * win.width,
  });
  return { ref: dst, stride: win.width, x0: 0, y0: 0, width: win.width, height: win.height };
}

/** A source image given as horizontal bands: [rows, W] u32 tensors, band i starting at row y0. */
export interface ImageBands {
  width: number;
  height: number;
  bands: { ref: TensorRef; y0: number }[];
  /** Pixels from one row to the next in every band (default `width`; wider for rows padded to 256 bytes by a texture copy). */
  stride?: number;
}

/**
 * resizeBicubicView for a source split into row bands (an image too large for one storage binding):
 * the horizontal pass runs per band into its own rows, which are copied together, then the vertical
 * pass runs as usual. The horizontal pass is row-independent, so the bytes are the same as unbanded.
 */
export function resizeBicubicBands(plan: Plan, src: ImageBands, outW: number, outH: number, window?: ResizeWindow, label = 'resize'): ImageView {
  if (src.bands.length === 1) {
    const whole = wholeImage(src.bands[0]!.ref);
    if (whole.width < src.width) throw new Error(`${label}: image tensor is ${whole.width} wide, less than the image's ${src.width}`);
    return resizeBicubicView(plan, { ...whole, width: src.width }, outW, outH, window, label);
  }
  const win = window ?? { x0: 0, y0: 0, width: outW, height: outH };
  if (win.x0 < 0 || win.y0 < 0 || win.width < 1 || win.height < 1 || win.x0 + win.width > outW || win.y0 + win.height > outH) {
    throw new Error(`${label}: window ${win.width}×${win.height} at (${win.x0}, ${win.y0}) is outside the ${outW}×${outH} output`);
  }
  if (outW === src.width) {
    throw new Error(`${label}: the ${src.width}×${src.height} image is split into ${src.bands.length} bands to fit the storage binding limit, which needs a horizontal resize (the width stays ${outW})`);
  }
  const vert = outH !== src.height ? precomputeCoeffs(src.height, outH) : null;
  const [rowFirst, rowEnd] = vert ? sourceSpan(vert, win.y0, win.height) : [win.y0, win.y0 + win.height];
  const { taps, table } = resampleTable(precomputeCoeffs(src.width, outW), win.x0, win.width);
  const tab = hostConstant(plan, `${label}.h.table`, table, [win.width, taps + 2], 'i32');
  const full = intermediate(plan, [rowEnd - rowFirst, win.width], 'u32', `${label}.h`);
  src.bands.forEach(({ ref, y0 }, i) => {
    const a = Math.max(rowFirst, y0);
    const b = Math.min(rowEnd, y0 + ref.shape[0]!);
    if (a >= b) return;
    const part = intermediate(plan, [b - a, win.width], 'u32', `${label}.h${i}`);
    dispatch(plan, {
      kernel: resizeKernel, label: `${label}.h${i}`,
      bindings: { src: ref, table: tab, dst: part },
      elements: { table: table.length, dst: (b - a) * win.width },
      constants: { VERTICAL: 0, SRC_STRIDE: src.stride ?? src.width, SRC_X0: 0, SRC_Y0: a - y0, OUT_W: win.width, OUT_H: b - a, TAPS: taps },
      workgroups: [ceilDiv(win.width, 64), ceilDiv(b - a, 4)],
      flops: 6 * taps * (b - a) * win.width,
    });
    copy(plan, part, full, { dstOffset: (a - rowFirst) * win.width * 4, label: `${label}.h${i}.rows` });
  });
  const cur = { ref: full, stride: win.width, x0: 0, y0: 0, width: win.width, height: rowEnd - rowFirst };
  return vert ? verticalPass(plan, cur, vert, win, rowFirst, label) : cur;
}

/**
 * Records Pillow's bicubic resize of a [H, W] u32 packed-RGBA8 image to [outH, outW] (a new tensor,
 * also when the size is unchanged).
 */
export function resizeBicubic(plan: Plan, src: TensorRef, outW: number, outH: number, label = 'resize'): TensorRef {
  const view = resizeBicubicView(plan, wholeImage(src), outW, outH, undefined, label);
  if (view.ref !== src) return view.ref;
  const dst = intermediate(plan, [outH, outW], 'u32', label);
  copy(plan, src, dst, { label: `${label}.copy` });
  return dst;
}
