// Image → pixel_values (T, 3, S, S) on the GPU. The decoded RGBA bytes are uploaded once; every
// resize, crop, tile cut and normalization then runs in WGSL, one plan per (image size, options),
// compiled once and cached.
//
// Modes (all resizes are Pillow's bicubic, byte for byte):
//   'internvl' (default) InternVL's dynamic_preprocess: grid from src/model/tiling.ts, resize to
//              (S·cols, S·rows), cut cols·rows tiles row-major, then (if more than one tile and
//              thumbnail is on) the whole image squashed to S×S as the last tile.
//   'clip'     CLIPImageProcessor (Transformers): shortest side to S, the long side to
//              int(S·long/short), center crop S×S at ((w−S)//2, (h−S)//2). Only the cropped pixels
//              are computed: each output pixel of a resize depends on its own table row only.
//   'none'     one squash resize to S×S (InternVL's build_transform without tiling).
// Normalization reproduces each reference's float32 steps bit for bit through a 3×256 table
// (src/kernels/normalize.ts): torchvision ToTensor + Normalize for 'internvl' and 'none',
// Transformers' rescale (float64 ·1/255) + normalize for 'clip'.
import { IMAGENET_MEAN, IMAGENET_STD, normalizeTable, normalizeTiles, type Rescale } from '../kernels/normalize.js';
import { resizeBicubicBands, resizeBicubicReference, wholeImage, type ImageBands, type ResizeWindow } from '../kernels/resize.js';
import { whileAlive, type Gpu } from '../runtime/device.js';
import { runPlans, type Stage } from '../runtime/executor.js';
import { externalImageSize, isExternalImage, paddedRowPixels, type ExternalImage } from './external-image.js';
import { compilePlan, createPlan, disposePlan, input, intermediate, output, outputTensor, planBytes, type CompiledPlan, type Plan, type TensorRef } from '../runtime/plan.js';
import { captureErrors } from '../runtime/gpu-errors.js';
import { createTensor, disposeTensor, shapeString, type Tensor } from '../runtime/tensor.js';
import { ByteLru, type Lease } from '../runtime/lru.js';
import { decodeImage, type DecodedImage, type ImageInput } from './image.js';
import { checkImagePixels, resolveMaxImagePixels } from './image-header.js';
import { planLimitViolations } from '../runtime/limits.js';
import { limitErrorWithAdvice } from './micro-batch.js';
import { checkTileRange, chooseGrid, type Grid } from './tiling.js';

export type PreprocessMode = 'internvl' | 'clip' | 'none';

export interface PreprocessOptions {
  mode?: PreprocessMode;
  /** Tile size S (default 448, the InternViT input). */
  size?: number;
  /** 'internvl' only: tile count range (default 1..12) and the thumbnail tile (default on). */
  minTiles?: number;
  maxTiles?: number;
  thumbnail?: boolean;
  /** Per-channel normalization (default ImageNet: InternViT's preprocessor_config). */
  mean?: readonly number[];
  std?: readonly number[];
  /**
   * Images with more pixels are refused from their header, before decoding (default
   * DEFAULT_MAX_IMAGE_PIXELS = 178,956,970, Pillow's decompression-bomb error threshold).
   */
  maxImagePixels?: number;
}

/** One resize of the source and the tiles cut from it. */
export interface LayoutStep {
  /** Full output size of the resize (Pillow's `size`). */
  resizeTo: [number, number];
  /** The part of that output that is computed (a center crop in 'clip', else all of it). */
  window: ResizeWindow;
  /** Tiles firstTile .. firstTile + count − 1, row-major over `cols` columns of the window. */
  firstTile: number;
  count: number;
  cols: number;
}

/** Everything about an image's preprocessing that depends only on its size and the options. */
export interface PreprocessLayout {
  mode: PreprocessMode;
  size: number;
  width: number;
  height: number;
  grid: Grid;
  tiles: number;
  steps: LayoutStep[];
  mean: readonly number[];
  std: readonly number[];
  /** How v becomes [0, 1]: 'multiply' for 'clip' (Transformers), 'divide' otherwise (torchvision). */
  rescale: Rescale;
}

const MODES: readonly PreprocessMode[] = ['internvl', 'clip', 'none'];

export function resolveOptions(opts: PreprocessOptions = {}): Required<PreprocessOptions> {
  const o = {
    mode: opts.mode ?? 'internvl', size: opts.size ?? 448, minTiles: opts.minTiles ?? 1, maxTiles: opts.maxTiles ?? 12,
    thumbnail: opts.thumbnail ?? true, mean: opts.mean ?? IMAGENET_MEAN, std: opts.std ?? IMAGENET_STD,
    maxImagePixels: resolveMaxImagePixels(opts.maxImagePixels),
  };
  if (!MODES.includes(o.mode)) throw new Error(`preprocess: unknown mode '${o.mode}' (modes: ${MODES.join(', ')})`);
  if (!Number.isInteger(o.size) || o.size < 1 || o.size > 8192) throw new Error(`preprocess: size must be an integer in 1..8192 (got ${o.size})`);
  if (o.mode === 'internvl') checkTileRange(o.minTiles, o.maxTiles);
  normalizeTable(o.mean, o.std); // validates mean and std
  return o;
}

/** CLIPImageProcessor's resize target (get_resize_output_image_size, shortest_edge = S) and center crop. */
export function clipGeometry(width: number, height: number, size: number): { resizeTo: [number, number]; crop: [number, number] } {
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((size * long) / short); // Python: int(size * long / short)
  const [w, h] = width <= height ? [size, newLong] : [newLong, size];
  return { resizeTo: [w, h], crop: [Math.floor((w - size) / 2), Math.floor((h - size) / 2)] };
}

/** The whole image → pixel_values plan, as numbers (no GPU): grid, tile count, resizes, crops. */
export function preprocessLayout(width: number, height: number, options: PreprocessOptions = {}): PreprocessLayout {
  const o = resolveOptions(options);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`preprocess: image is empty or has an invalid size (${width}×${height})`);
  }
  const S = o.size;
  const full = (w: number, h: number): ResizeWindow => ({ x0: 0, y0: 0, width: w, height: h });
  const base = { mode: o.mode, size: S, width, height, mean: o.mean, std: o.std, rescale: (o.mode === 'clip' ? 'multiply' : 'divide') as Rescale };
  if (o.mode === 'clip') {
    const { resizeTo, crop } = clipGeometry(width, height, S);
    const window = { x0: crop[0], y0: crop[1], width: S, height: S };
    return { ...base, grid: { cols: 1, rows: 1 }, tiles: 1, steps: [{ resizeTo, window, firstTile: 0, count: 1, cols: 1 }] };
  }
  if (o.mode === 'none') {
    return { ...base, grid: { cols: 1, rows: 1 }, tiles: 1, steps: [{ resizeTo: [S, S], window: full(S, S), firstTile: 0, count: 1, cols: 1 }] };
  }
  const grid = chooseGrid(width, height, S, o.minTiles, o.maxTiles);
  const blocks = grid.cols * grid.rows;
  const steps: LayoutStep[] = [{ resizeTo: [S * grid.cols, S * grid.rows], window: full(S * grid.cols, S * grid.rows), firstTile: 0, count: blocks, cols: grid.cols }];
  if (o.thumbnail && blocks !== 1) steps.push({ resizeTo: [S, S], window: full(S, S), firstTile: blocks, count: 1, cols: 1 });
  return { ...base, grid, tiles: steps.reduce((a, s) => a + s.count, 0), steps };
}

/**
 * Records the preprocessing of `image` (a [H, W] u32 tensor of packed RGBA8 pixels, H×W as in the
 * layout) into a new (T, 3, S, S) f32 tensor, which it returns.
 */
export function recordPreprocess(plan: Plan, image: TensorRef | ImageBands, layout: PreprocessLayout, label = 'preprocess'): TensorRef {
  const src: ImageBands = 'bands' in image ? image : { width: wholeImage(image).width, height: wholeImage(image).height, bands: [{ ref: image, y0: 0 }] };
  if (src.width !== layout.width || src.height !== layout.height) {
    throw new Error(`${label}: image tensor is ${src.width}×${src.height}, the layout was made for ${layout.width}×${layout.height}`);
  }
  const S = layout.size;
  const pixelValues = intermediate(plan, [layout.tiles, 3, S, S], 'f32', 'pixel_values');
  layout.steps.forEach((step, i) => {
    const name = `${label}.${i === 0 ? 'resize' : 'thumbnail'}`;
    const view = resizeBicubicBands(plan, src, step.resizeTo[0], step.resizeTo[1], step.window, name);
    normalizeTiles(plan, view, pixelValues, {
      tile: step.firstTile, count: step.count, cols: step.cols, mean: layout.mean, std: layout.std, rescale: layout.rescale, label: `${name}.normalize`,
    });
  });
  return pixelValues;
}

/** A compiled preprocessing plan for one image size and one set of options. */
export interface PreprocessPlan {
  layout: PreprocessLayout;
  compiled: CompiledPlan;
  /** Serialises preprocess() calls on this plan (run + optional copy out). */
  lock: Promise<unknown>;
  /** Source rows per input band: the image is one input, or bands when it is over the binding limit. */
  bandRows: number;
  /**
   * Plans for external images (ImageBitmap, VideoFrame, video, canvas): the texture they are copied
   * into (made with the plan, reused every frame), and the input rows' stride in pixels (padded).
   */
  texture?: GPUTexture;
  stride?: number;
}

/**
 * Rows of the source per band: all of them when the image fits one storage binding, else as many
 * as fit (a band of h rows binds h·W·4 bytes). The horizontal resize runs per band.
 */
function bandRowsFor(gpu: Gpu, width: number, height: number): number {
  const fit = Math.floor(Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize) / (width * 4));
  return Math.max(1, Math.min(height, fit));
}

/** Inputs of a preprocessing plan: `image`, or `image.0`, `image.1`, … for a banded source. */
function imageInputs(pixels: Uint32Array, width: number, height: number, bandRows: number): Record<string, Uint32Array> {
  if (bandRows >= height) return { image: pixels };
  const out: Record<string, Uint32Array> = {};
  for (let i = 0, y = 0; y < height; i++, y += bandRows) out[`image.${i}`] = pixels.subarray(y * width, Math.min(height, y + bandRows) * width);
  return out;
}

/** Where a plan's image comes from: host bytes written to its input, or a texture copied on the GPU. */
export type ImageSource = 'host' | 'texture';

export async function compilePreprocess(gpu: Gpu, width: number, height: number, options: PreprocessOptions = {}, source: ImageSource = 'host'): Promise<PreprocessPlan> {
  const layout = preprocessLayout(width, height, options);
  const plan = createPlan(gpu, `preprocess ${width}×${height} ${layout.mode} S=${layout.size}${source === 'texture' ? ' (texture)' : ''}`);
  // A texture copy writes rows of a multiple of 256 bytes; the resize reads them with that stride.
  const stride = source === 'texture' ? paddedRowPixels(width) : width;
  const bandRows = bandRowsFor(gpu, stride, height);
  const bands: ImageBands['bands'] = [];
  for (let y = 0; y < height; y += bandRows) {
    const name = bandRows >= height ? 'image' : `image.${bands.length}`;
    bands.push({ ref: input(plan, name, [Math.min(bandRows, height - y), stride], 'u32'), y0: y });
  }
  output(plan, 'pixel_values', recordPreprocess(plan, { width, height, bands, stride }, layout));
  // The image, its resizes and the tiles are each bound whole: a binding over the device's limit is
  // refused here, before anything is allocated, with what to change.
  const violations = planLimitViolations(plan);
  if (violations.length) {
    throw limitErrorWithAdvice(plan, violations, 'Downscale the image before preprocessing it, or use fewer tiles (maxTiles) or a smaller size');
  }
  const compiled = await compilePlan(plan);
  if (source === 'host') return { layout, compiled, lock: Promise.resolve(), bandRows };
  let texture: GPUTexture;
  try {
    texture = createImageTexture(gpu, width, height);
  } catch (e) {
    disposePlan(compiled);
    throw e;
  }
  return { layout, compiled, lock: Promise.resolve(), bandRows, texture, stride };
}

/** The texture external images are copied into (RENDER_ATTACHMENT: copyExternalImageToTexture needs it). */
function createImageTexture(gpu: Gpu, width: number, height: number): GPUTexture {
  const made = captureErrors(gpu, { context: `preprocessing ${width}×${height} external images`, step: 'creating the image texture' }, () =>
    gpu.device.createTexture({
      size: [width, height], format: 'rgba8unorm', label: `image ${width}×${height}`,
      usage: GPUTextureUsage.COPY_DST | GPUTextureUsage.COPY_SRC | GPUTextureUsage.RENDER_ATTACHMENT,
    }));
  made.errors.catch(() => undefined); // a failed texture fails the first run's copy, inside its error scopes
  gpu.counters.bytesAllocated += width * height * 4;
  gpu.counters.bytesLive += width * height * 4;
  gpu.counters.peakBytesLive = Math.max(gpu.counters.peakBytesLive, gpu.counters.bytesLive);
  return made.value;
}

function destroyPreprocessPlan(gpu: Gpu, p: PreprocessPlan): void {
  disposePlan(p.compiled);
  if (p.texture) {
    p.texture.destroy();
    gpu.counters.bytesLive -= p.texture.width * p.texture.height * 4;
  }
}

// Compiled plans by (image size, options): LRUs with a byte budget (see runtime/lru.ts). A model keeps
// its own (InternViT: freed by dispose()); preprocess() without one uses a per-device cache. A plan in
// use (leased until its run is done) is never evicted under a caller.
const CACHE_KEY = 'preprocess:plans';

/** Default budget of a preprocessing plan cache. */
export const DEFAULT_PREPROCESS_CACHE_BYTES = 128 * 2 ** 20;

export type PreprocessCache = ByteLru<PreprocessPlan>;

export function createPreprocessCache(budget = DEFAULT_PREPROCESS_CACHE_BYTES): PreprocessCache {
  return new ByteLru<PreprocessPlan>({
    budget,
    sizeOf: (p) => planBytes(p.compiled) + (p.texture ? p.texture.width * p.texture.height * 4 : 0),
    dispose: (p) => destroyPreprocessPlan(p.compiled.gpu, p),
  });
}

/** The device's own cache, for preprocess() calls that bring none. */
export function devicePreprocessCache(gpu: Gpu): PreprocessCache {
  let cache = gpu.cache.get(CACHE_KEY) as PreprocessCache | undefined;
  if (!cache) {
    cache = createPreprocessCache();
    gpu.cache.set(CACHE_KEY, cache);
  }
  return cache;
}

/** The cached compiled plan for this image size and options (compiled on first use), leased until release(). */
export function leasePreprocessPlan(
  gpu: Gpu, width: number, height: number, options: PreprocessOptions = {}, cache: PreprocessCache = devicePreprocessCache(gpu), source: ImageSource = 'host',
): Promise<Lease<PreprocessPlan>> {
  const o = resolveOptions(options);
  const key = JSON.stringify([width, height, o.mode, o.size, o.mode === 'internvl' ? [o.minTiles, o.maxTiles, o.thumbnail] : 0, o.mean, o.std, source]);
  return cache.acquire(key, () => compilePreprocess(gpu, width, height, o, source));
}

/** The cached compiled plan (not leased: it may be evicted once other plans are used). */
export async function getPreprocessPlan(gpu: Gpu, width: number, height: number, options: PreprocessOptions = {}): Promise<PreprocessPlan> {
  const lease = await leasePreprocessPlan(gpu, width, height, options);
  lease.release();
  return lease.value;
}

/** Disposes every plan in the device's own preprocessing cache. */
export function clearPreprocessCache(gpu: Gpu): void {
  devicePreprocessCache(gpu).clear();
}

export interface PreprocessResult<P = Float32Array> {
  /** (T, 3, S, S) float32, on the host (default) or as a GPU tensor the caller owns. */
  pixelValues: P;
  shape: [number, number, number, number];
  grid: Grid;
  tiles: number;
  layout: PreprocessLayout;
}

/** The decoded pixels as u32 words (one RGBA8 pixel each), without a copy when aligned. */
export function packedPixels(image: DecodedImage): Uint32Array {
  const { data, width, height } = image;
  if (data.length !== width * height * 4) throw new Error(`image '${image.name}': ${data.length} bytes is not ${width}×${height} RGBA`);
  if (data.byteOffset % 4 === 0) return new Uint32Array(data.buffer, data.byteOffset, width * height);
  return new Uint32Array(data.slice().buffer);
}

function isDecoded(x: unknown): x is DecodedImage {
  const d = x as DecodedImage;
  return typeof d === 'object' && d !== null && d.data instanceof Uint8Array && typeof d.name === 'string' &&
    Number.isInteger(d.width) && Number.isInteger(d.height) && d.data.length === d.width * d.height * 4;
}

/** Runs `fn` with the cached plan to itself, so no other call overwrites its output meanwhile. */
export function withPreprocessLock<T>(cached: PreprocessPlan, fn: () => Promise<T>): Promise<T> {
  const run = cached.lock.then(fn);
  cached.lock = run.catch(() => undefined);
  return run;
}

/**
 * The preprocessing of one image as a stage for runPlans(): a caller that feeds the encoder with it
 * runs both in one command buffer, with no buffer made per image. Run it under withPreprocessLock,
 * and call release() once the run is done (until then the plan cannot be evicted).
 */
export async function preprocessStage(
  gpu: Gpu, image: ImageInput | DecodedImage, options: PreprocessOptions = {}, cache?: PreprocessCache,
): Promise<PreprocessResult<Tensor> & { cached: PreprocessPlan; stage: Stage; release(): void }> {
  const { maxImagePixels } = resolveOptions(options);
  if (isExternalImage(image) && canCopyExternal(gpu, image)) return externalStage(gpu, image, options, cache);
  const decoded = isDecoded(image) ? image : await decodeImage(image, undefined, { maxImagePixels });
  checkImagePixels(decoded.width, decoded.height, decoded.name, maxImagePixels);
  const lease = await leasePreprocessPlan(gpu, decoded.width, decoded.height, options, cache);
  const cached = lease.value;
  const { layout, compiled } = cached;
  const S = layout.size;
  return {
    cached,
    release: lease.release,
    stage: { compiled, inputs: imageInputs(packedPixels(decoded), decoded.width, decoded.height, cached.bandRows), read: [] },
    pixelValues: outputTensor(compiled, 'pixel_values'),
    shape: [layout.tiles, 3, S, S], grid: { ...layout.grid }, tiles: layout.tiles, layout,
  };
}

/**
 * copyExternalImageToTexture exists (browsers; not Dawn's Node binding) and the image fits a texture;
 * otherwise the image is drawn and read back on the CPU (the same bytes, just slower).
 */
function canCopyExternal(gpu: Gpu, image: ExternalImage): boolean {
  if (typeof gpu.device.queue.copyExternalImageToTexture !== 'function') return false;
  const { width, height } = externalImageSize(image);
  return width <= gpu.limits.maxTextureDimension2D && height <= gpu.limits.maxTextureDimension2D;
}

function isVideo(x: ExternalImage): x is VideoFrame | HTMLVideoElement {
  const V = (globalThis as { VideoFrame?: typeof VideoFrame }).VideoFrame;
  const E = (globalThis as { HTMLVideoElement?: typeof HTMLVideoElement }).HTMLVideoElement;
  return (!!V && x instanceof V) || (!!E && x instanceof E);
}

/**
 * Whether this device's queue copies video straight into a texture: asked once per device with a
 * 1×1 copy into a 1×1 texture of its own (kept in gpu.cache).
 */
function directVideoCopy(gpu: Gpu, frame: VideoFrame | HTMLVideoElement): boolean {
  const key = 'preprocess:direct-video-copy';
  let ok = gpu.cache.get(key) as boolean | undefined;
  if (ok === undefined) {
    // In error scopes, so nothing it reports counts as an uncaptured error of the device.
    const probed = captureErrors(gpu, { context: 'asking whether video copies to a texture', step: 'a 1×1 copy' }, () => {
      const probe = gpu.device.createTexture({ size: [1, 1], format: 'rgba8unorm', usage: GPUTextureUsage.COPY_DST | GPUTextureUsage.RENDER_ATTACHMENT, label: 'video copy probe' });
      try {
        gpu.device.queue.copyExternalImageToTexture({ source: frame }, { texture: probe }, [1, 1]);
        return true;
      } catch (e) {
        // OperationError: this browser cannot copy video here. Anything else is about the frame itself.
        if ((e as Error).name !== 'OperationError') throw e;
        return false;
      } finally {
        probe.destroy();
      }
    });
    probed.errors.catch(() => undefined); // the frame's copy in the run reports any real problem
    ok = probed.value;
    gpu.cache.set(key, ok);
  }
  return ok;
}

/** preprocessStage for an external image: copied to the plan's texture, then into its input, on the GPU. */
async function externalStage(
  gpu: Gpu, image: ExternalImage, options: PreprocessOptions, cache?: PreprocessCache,
): Promise<PreprocessResult<Tensor> & { cached: PreprocessPlan; stage: Stage; release(): void }> {
  const { maxImagePixels } = resolveOptions(options);
  const { width, height, name } = externalImageSize(image);
  checkImagePixels(width, height, name, maxImagePixels);
  // Where the browser cannot copy video straight into a texture (measured: Chromium on SwiftShader),
  // the frame becomes an ImageBitmap first (inside the browser; nothing is read back to JavaScript).
  const bitmap = isVideo(image) && !directVideoCopy(gpu, image) ? await createImageBitmap(image) : null;
  const source = bitmap ?? image;
  let lease: Lease<PreprocessPlan>;
  try {
    lease = await leasePreprocessPlan(gpu, width, height, options, cache, 'texture');
  } catch (e) {
    bitmap?.close();
    throw e;
  }
  const cached = lease.value;
  const { layout, compiled, texture, stride, bandRows } = cached;
  const names = [...compiled.plan.inputs.keys()];
  const S = layout.size;
  const fill: NonNullable<Stage['fill']> = {
    names,
    // Runs inside the run's error scopes, after this plan's earlier runs were submitted (the plan's
    // lock), so the texture is not overwritten under a run that still reads it.
    encode: (encoder, buffer) => {
      gpu.device.queue.copyExternalImageToTexture({ source, flipY: false }, { texture: texture!, premultipliedAlpha: false, colorSpace: 'srgb' }, [width, height]);
      names.forEach((n, i) => {
        const y0 = i * bandRows;
        const rows = Math.min(bandRows, height - y0);
        encoder.copyTextureToBuffer({ texture: texture!, origin: { x: 0, y: y0 } }, { buffer: buffer(n), bytesPerRow: stride! * 4, rowsPerImage: rows }, [width, rows]);
      });
    },
  };
  return {
    cached,
    release: () => {
      bitmap?.close();
      lease.release();
    },
    stage: { compiled, inputs: {}, read: [], fill },
    pixelValues: outputTensor(compiled, 'pixel_values'),
    shape: [layout.tiles, 3, S, S], grid: { ...layout.grid }, tiles: layout.tiles, layout,
  };
}

/**
 * Decodes (if needed) and preprocesses one image on the GPU. Plans are cached per (size, options).
 * With `{ output: 'gpu' }` pixelValues is a new GPU tensor that the caller disposes.
 */
export async function preprocess(gpu: Gpu, image: ImageInput | DecodedImage, options?: PreprocessOptions & { output?: 'host' }): Promise<PreprocessResult<Float32Array>>;
export async function preprocess(gpu: Gpu, image: ImageInput | DecodedImage, options: PreprocessOptions & { output: 'gpu' }): Promise<PreprocessResult<Tensor>>;
export async function preprocess(gpu: Gpu, image: ImageInput | DecodedImage, options: PreprocessOptions & { output?: 'host' | 'gpu' } = {}): Promise<PreprocessResult<Float32Array | Tensor>> {
  const { cached, stage, pixelValues: planOutput, release, ...meta } = await preprocessStage(gpu, image, options);
  const pixelValues = await withPreprocessLock(cached, async () => {
    if (options.output !== 'gpu') return (await runPlans([{ ...stage, read: undefined }]))[0]!.pixel_values as Float32Array;
    await runPlans([stage]);
    // The caller owns the copy: the plan's output is overwritten by the next image of this size.
    const copy = captureErrors(gpu, { context: `preprocessing into ${shapeString(meta.shape)} pixel_values`, step: 'copying them into a new tensor' }, () => {
      const tensor = createTensor(gpu, meta.shape, 'f32', 'pixel_values');
      const enc = gpu.device.createCommandEncoder({ label: 'pixel_values copy' });
      enc.copyBufferToBuffer(planOutput.buffer, 0, tensor.buffer, 0, tensor.byteLength);
      gpu.device.queue.submit([enc.finish()]);
      gpu.counters.submits++;
      return tensor;
    });
    try {
      await whileAlive(gpu, copy.errors);
    } catch (e) {
      disposeTensor(gpu, copy.value);
      throw e;
    }
    return copy.value;
  }).finally(release);
  return { pixelValues, ...meta };
}

/**
 * CPU reference of the whole pipeline: Pillow-exact integer resizes, then float64 (v/255 − mean)/std.
 * Also returns the uint8 tiles (T, S, S, 4 RGBA) to compare resizes byte for byte.
 */
export function preprocessReference(image: DecodedImage, options: PreprocessOptions = {}): { pixelValues: Float64Array; tileBytes: Uint8Array; layout: PreprocessLayout } {
  const layout = preprocessLayout(image.width, image.height, options);
  const S = layout.size;
  const pixelValues = new Float64Array(layout.tiles * 3 * S * S);
  const tileBytes = new Uint8Array(layout.tiles * S * S * 4);
  for (const step of layout.steps) {
    const [w, h] = step.resizeTo;
    const resized = resizeBicubicReference(image.data, image.width, image.height, w, h);
    for (let k = 0; k < step.count; k++) {
      const t = step.firstTile + k;
      for (let y = 0; y < S; y++) {
        const sy = step.window.y0 + Math.floor(k / step.cols) * S + y;
        for (let x = 0; x < S; x++) {
          const sx = step.window.x0 + (k % step.cols) * S + x;
          for (let c = 0; c < 4; c++) tileBytes[((t * S + y) * S + x) * 4 + c] = resized[(sy * w + sx) * 4 + c]!;
          for (let c = 0; c < 3; c++) {
            pixelValues[((t * 3 + c) * S + y) * S + x] = (resized[(sy * w + sx) * 4 + c]! / 255 - layout.mean[c]!) / layout.std[c]!;
          }
        }
      }
    }
  }
  return { pixelValues, tileBytes, layout };
}
