// The one-call API: load once, then embed images (or pixel tensors) and, for InternVL chat
// checkpoints, produce the image tokens a language model consumes.
//
//   const model = await InternViT.load('OpenGVLab/InternViT-300M-448px-V2_5');
//   const { lastHiddenState, poolerOutput } = await model.embed(imageElement);
//   model.dispose();
import { DeviceLostError, describeGpu, destroyGpu, getGpu, gpuFromDevice, resolveLimitsMode, type Gpu, type LimitsMode } from './runtime/device.js';
import { isGpuBuffer, pixelBufferTensor, withGpuBufferInput, type GpuOutput, type OutputPlace } from './model/gpu-io.js';
import type { HostArray, Stage } from './runtime/executor.js';
import type { CheckpointStore, LoadProgress } from './runtime/loader.js';
import type { Tensor } from './runtime/tensor.js';
import type { ModelConfig } from './model/config.js';
import type { DecodedImage, ImageInput } from './model/image.js';
import { describeVersions, disposeEncoder, encode, loadEncoder, maxBatch, type ForwardResult, type HostOutput, type InternVitEncoder } from './model/internvit.js';
import type { TuneMode, TuneOptions, Tuning } from './runtime/tuner.js';
import { MAX_BATCH_SEARCH, type BatchFit } from './model/micro-batch.js';
import { imageTokens, maxTilesPerPass, type ImageTokensOutput, type InternVlVision } from './model/internvl.js';
import { DEFAULT_PLAN_CACHE_BYTES } from './runtime/plan.js';
import {
  createPreprocessCache, DEFAULT_PREPROCESS_CACHE_BYTES, preprocessStage, withPreprocessLock,
  type PreprocessCache, type PreprocessLayout, type PreprocessMode, type PreprocessOptions,
} from './model/preprocess.js';
import { featureMap, type FeatureMapOptions, type FeatureMapResult } from './model/feature-map.js';
import type { Grid } from './model/tiling.js';
import { paramCount } from './model/presets.js';
import { describeStorageBytes, type WeightStorage } from './model/weights.js';
import { quantOf } from './model/quantized.js';
import type { Precision } from './model/precision.js';
import { abortReason, throwIfAborted } from './runtime/abort.js';
import { cachedModels, clearCache, type CachedModel } from './runtime/weight-cache.js';

export interface LoadOptions {
  /** A device to use; by default one is acquired (and destroyed by dispose()). */
  gpu?: Gpu;
  /**
   * The app's own GPUDevice (instead of `gpu`): the model runs on it and never destroys it. Its
   * features and limits are the ones the app requested (precision 'f16' needs 'shader-f16'). On its
   * loss calls reject with DeviceLostError; model.recover(newDevice) moves the model to a new one.
   */
  device?: GPUDevice;
  onProgress?: (p: LoadProgress) => void;
  /** Hugging Face base URL for hub ids (default https://huggingface.co), revision, token, custom fetch. */
  hubUrl?: string;
  revision?: string;
  token?: string;
  fetch?: typeof fetch;
  /**
   * How linear-layer weights are kept on the GPU: 'auto' (default) as in the checkpoint, so BF16
   * checkpoints stay bf16 (exact, half of f32's memory); 'f32', 'bf16' or 'f16' to choose. The
   * arithmetic is f32 unless `precision` says otherwise; with precision 'f16', 'auto' stores them f16.
   */
  weightStorage?: WeightStorage;
  /**
   * GPU bytes of compiled plans (one per input shape and options) the model keeps for reuse; beyond
   * it the least recently used are freed (default DEFAULT_PLAN_CACHE_BYTES, 512 MiB; Infinity keeps all). Plans in use,
   * held by a keepOnGpu result, or the most recently used one are never freed.
   */
  planCacheBytes?: number;
  /**
   * GPU bytes of preprocessing plans (one per image size and options) the model keeps for reuse
   * (default DEFAULT_PREPROCESS_CACHE_BYTES, 128 MiB), with the same rules.
   */
  preprocessCacheBytes?: number;
  /**
   * 'f32' (default: f32 arithmetic, exact parity), 'f16' (f16 activations and matmul/attention
   * operands, f32 accumulation, norms' statistics and softmax; needs 'shader-f16', else an error) or
   * 'auto' (f16 where the device has 'shader-f16'). See README, Precision.
   */
  precision?: Precision;
  /**
   * Browsers: keep the files fetched from a URL or hub id in Cache Storage, so the next load of the
   * same model reads no weights from the network (default true where Cache Storage exists; Node has
   * no cache); false: neither read nor write it; a CacheStorage: use that one. See README, Weight
   * cache. `InternViT.clearCache()` empties it, `InternViT.cachedModels()` lists it.
   */
  cache?: boolean | CacheStorage;
  /**
   * Aborts the load: network reads and the upload stop, the promise rejects with an AbortError, GPU
   * buffers made so far are freed and no partial cache entry is kept.
   */
  signal?: AbortSignal;
  /**
   * Device limits when load() acquires the device: 'adapter' (the adapter's maxima; the default, or
   * env INTERNVIT_LIMITS) or 'default' (WebGPU's spec defaults, what constrained browsers offer).
   * With `gpu` given, it must match how that device was opened.
   */
  limits?: LimitsMode;
  /**
   * Kernel versions (README, Autotuning): 'cache' (default: this adapter's cached tuned choices, else
   * the heuristics), 'off' (heuristics, cache ignored), 'fast' (time op shapes missing from the cache
   * when their plan compiles) or 'full' (time every op shape again, more runs); or TuneOptions.
   */
  tune?: TuneMode | TuneOptions;
}

export interface ImageOptions extends Omit<PreprocessOptions, 'mode'> {
  /** 'internvl' (dynamic tiles + thumbnail, default), 'clip' (short side + center crop) or 'none' (squash). */
  preprocess?: PreprocessMode;
}

export interface EmbedOptions extends ImageOptions {
  hiddenStates?: boolean | readonly number[];
  /**
   * Leave outputs on the GPU: tensors owned by the model, valid until the next call with the same tile
   * count (and options), or until `out.gpu.release()`; until then their plan is not evicted. Refused
   * (with the count per pass) when the tiles need several passes on this device.
   */
  keepOnGpu?: boolean;
  /** Time every op with timestamp queries (a separate profiled plan; needs 'timestamp-query'): result.profile. */
  profile?: boolean;
  /**
   * 'host' (default): outputs as Float32Arrays. 'gpu': each output copied (in the same submit) into a
   * new GPUBuffer that the caller owns and destroys (result.buffers); the runtime never touches it
   * again. Host outputs are then empty. Unlike keepOnGpu, nothing is held in the model's plans.
   */
  output?: OutputPlace;
}

export interface TileInfo {
  /** Tiles fed to the encoder (grid tiles, plus the thumbnail when there is one). */
  count: number;
  grid: Grid;
}

export type EmbedResult = ForwardResult & { tiles: TileInfo };

export interface ImageTokensResult extends HostOutput {
  tiles: TileInfo;
  gpu?: Tensor;
  /** With output 'gpu': the tokens in a new GPUBuffer the caller owns and destroys (`data` is then empty). */
  buffer?: GpuOutput;
  /** Tiles per pass: [T] in one pass, e.g. [6, 6, 1] when the stack was split to fit the device. */
  microBatches: number[];
  /** With keepOnGpu: lets the plan behind `gpu` be evicted (the tensor is then invalid). */
  release?: () => void;
}

/** What a model runs on; replaced as a whole by recover(). */
interface Parts {
  gpu: Gpu;
  encoder: InternVitEncoder;
  internvl: InternVlVision | null;
  preprocessPlans: PreprocessCache;
  ownsGpu: boolean;
}

/** GPU memory the model holds now, in bytes (buffers made by the runtime). */
export interface ModelMemory {
  weightBytes: number;
  /** Encoder (and InternVL token) plans cached, and their bytes; planCacheBytes bounds them. */
  plans: number;
  planBytes: number;
  /** Preprocessing plans cached, and their bytes; preprocessCacheBytes bounds them. */
  preprocessPlans: number;
  preprocessBytes: number;
  /** Every live buffer on the model's device (other users of a shared device included). */
  deviceBytesLive: number;
}

export class InternViT {
  private parts: Parts;
  private recovering: Promise<void> | null = null;
  private disposed = false;

  private constructor(
    parts: Parts,
    readonly config: ModelConfig,
    /** Where the weights came from and how they were loaded: recover() loads them again from there. */
    private readonly source: string | CheckpointStore,
    private readonly options: LoadOptions,
  ) {
    this.parts = parts;
  }

  /** Loads a checkpoint: a local folder (Node), a URL prefix, or a Hugging Face model id. */
  static async load(source: string | CheckpointStore, options: LoadOptions = {}): Promise<InternViT> {
    if (options.gpu && options.device) throw new Error('InternViT.load: pass either gpu or device, not both');
    if (options.device && options.limits !== undefined) {
      throw new Error("InternViT.load: limits cannot be chosen for the app's device (its limits are the ones it was created with); drop the limits option");
    }
    if (options.gpu && options.limits !== undefined && options.gpu.limitsMode !== resolveLimitsMode(options.limits)) {
      throw new Error(`InternViT.load: limits '${options.limits}' was asked for, but the given gpu was opened with limits '${options.gpu.limitsMode}'`);
    }
    const given = options.device ? gpuFromDevice(options.device) : options.gpu;
    const { parts, config } = await loadParts(source, options, given);
    // The signal is the load's: recover() must not inherit an abort that came later.
    const { signal: _loadOnly, ...kept } = options;
    return new InternViT(parts, config, source, kept);
  }

  /** The models in the browser's weight cache, with their files and sizes ([] where there is none). */
  static cachedModels(): Promise<CachedModel[]> {
    return cachedModels();
  }

  /** Empties the browser's weight cache, or removes one model (`model` as cachedModels() names it); returns the files removed. */
  static clearCache(model?: string): Promise<number> {
    return clearCache(model);
  }

  /** The device the model runs on (a new one after recover()). */
  get gpu(): Gpu {
    return this.parts.gpu;
  }

  /** The GPUDevice the model runs on: GPUBuffer inputs must be made on it. */
  get device(): GPUDevice {
    return this.parts.gpu.device;
  }

  /** What the model computes in: 'f32', or 'f16' (resolved from the load option `precision`). */
  get precision(): 'f32' | 'f16' {
    return this.parts.encoder.precision;
  }

  /** Kernel-version tuning on this device: mode, cache, choices and their measurements (README, Autotuning). */
  get tuning(): Tuning | undefined {
    return this.parts.encoder.tuning;
  }

  /** Adapter, model shape and size in a few lines. */
  describe(): string {
    const v = this.config.vision;
    const lines = [
      describeGpu(this.gpu),
      `InternViT: ${v.numLayers} layers, hidden ${v.hiddenSize}, ${v.numHeads} heads, MLP ${v.intermediateSize}, ` +
        `${v.normType}${v.qkNormalization ? ' + QK norm' : ''}, image ${v.imageSize}/${v.patchSize}, ${(paramCount(v) / 1e6).toFixed(1)} M params`,
    ];
    lines.push(describeWeights(this.parts.encoder.weights));
    lines.push(`weights on the GPU by storage (weightStorage): ${describeStorageBytes(v, { projector: this.config.chat })}`);
    lines.push(describePass('embed', 'images', v.imageSize, () => maxBatch(this.parts.encoder, v.imageSize, v.imageSize)));
    lines.push(describePrecision(this.parts.encoder.precision));
    lines.push(...describeVersions(this.parts.encoder));
    if (this.config.chat) {
      const c = this.config.chat;
      lines.push(`InternVL projector: pixel shuffle ${c.psVersion} → ${c.numImageTokens} tokens/tile → LLM hidden ${c.llmHiddenSize}, select_layer ${c.selectLayer}`);
      const internvl = this.parts.internvl!;
      lines.push(describePass('imageTokens', 'tiles', c.imageSize, () => maxTilesPerPass(internvl, c.imageSize, c.imageSize)));
    }
    return lines.join('\n');
  }

  /**
   * The model's parts for one call: waits for a recover() in progress; on a lost device rejects with a
   * DeviceLostError that says how to recover. Errors of the call itself get the same hint.
   */
  private async call<T>(fn: (parts: Parts) => Promise<T>): Promise<T> {
    if (this.disposed) throw new Error('InternViT: the model was disposed');
    if (this.recovering) await this.recovering.catch(() => undefined);
    const parts = this.parts;
    try {
      if (parts.gpu.lostReason !== null) throw new DeviceLostError(parts.gpu.lostReason);
      return await fn(parts);
    } catch (e) {
      if (e instanceof DeviceLostError && !this.disposed) throw new DeviceLostError(e.reason, this.recoverHint(parts));
      throw e;
    }
  }

  private recoverHint(parts: Parts): string {
    return parts.ownsGpu
      ? 'Call model.recover() to re-create the device and reload the weights'
      : parts.gpu.appDevice
        ? 'Call model.recover(device) with a new GPUDevice to reload the weights on it'
        : 'Call model.recover(gpu) with a new device (getGpu()) to reload the weights on it';
  }

  /** Preprocessing as a stage of the model's run: one command buffer per image, nothing allocated. */
  private async preprocessed<T>(parts: Parts, image: ImageInput | DecodedImage, opts: ImageOptions, run: (pixels: Tensor, shape: number[], before: Stage[], layout: PreprocessLayout) => Promise<T>): Promise<T & { tiles: TileInfo }> {
    const size = opts.size ?? this.config.chat?.imageSize ?? this.config.vision.imageSize;
    const { preprocess: mode, ...rest } = opts;
    const p = await preprocessStage(parts.gpu, image, { ...rest, mode: mode ?? 'internvl', size }, parts.preprocessPlans);
    try {
      const out = await withPreprocessLock(p.cached, () => run(p.pixelValues, p.shape, [p.stage], p.layout));
      return { ...out, tiles: { count: p.tiles, grid: p.grid } };
    } finally {
      p.release();
    }
  }

  /** What the model holds on the GPU now: weights, cached plans, and the device's live bytes. */
  memory(): ModelMemory {
    const { encoder, preprocessPlans, gpu } = this.parts;
    let weightBytes = 0;
    for (const t of encoder.weights.values()) weightBytes += t.buffer.size;
    return {
      weightBytes, plans: encoder.plans.size, planBytes: encoder.plans.bytes,
      preprocessPlans: preprocessPlans.size, preprocessBytes: preprocessPlans.bytes, deviceBytesLive: gpu.counters.bytesLive,
    };
  }

  /** Image → preprocessing on the GPU → encoder outputs for every tile (one submit). */
  embed(image: ImageInput | DecodedImage, opts: EmbedOptions = {}): Promise<EmbedResult> {
    return this.call((parts) => this.preprocessed(parts, image, opts, (pixels, shape, before) => encode(parts.encoder, pixels, shape, { ...opts, before })));
  }

  /**
   * Image → the patch-feature map of one layer (default the last), CLS dropped: (D, H', W') with
   * InternVL's grid tiles stitched in the image's layout on the GPU (thumbnail separately), one tile's
   * map for 'clip' / 'none', or (T, D, h, w) with stitch: false. One submit; the tiles must fit one pass.
   * output 'gpu': the maps in new GPUBuffers the caller owns (result.buffers), as for embed.
   */
  featureMap(image: ImageInput | DecodedImage, opts: ImageOptions & FeatureMapOptions = {}): Promise<FeatureMapResult> {
    const { layer, stitch, output, ...imageOpts } = opts;
    return this.call((parts) => this.preprocessed(parts, image, imageOpts, (pixels, shape, before, layout) => featureMap(parts.encoder, pixels, shape, layout, { layer, stitch, output, before })));
  }

  /**
   * pixel_values (B, 3, H, W) f32 already prepared → encoder outputs. A host array, a runtime Tensor,
   * or a GPUBuffer of the model's device (COPY_SRC usage, NCHW f32 from byte 0, at least B·3·H·W·4
   * bytes): it is copied in the run's command buffer, so it may be reused once the call returns.
   */
  embedPixels(pixels: HostArray | Tensor | GPUBuffer, shape: readonly number[], opts: Omit<EmbedOptions, keyof ImageOptions> = {}): Promise<ForwardResult> {
    return this.call((parts) => {
      if (!isGpuBuffer(pixels)) return encode(parts.encoder, pixels, shape, opts);
      const t = pixelBufferTensor(pixels, shape, 'embedPixels');
      return withGpuBufferInput('embedPixels', () => encode(parts.encoder, t, shape, opts));
    });
  }

  /** InternVL chat checkpoints: image → (tiles, tokens per tile, LLM hidden) image tokens (one submit). */
  imageTokens(image: ImageInput | DecodedImage, opts: ImageOptions & { keepOnGpu?: boolean; output?: OutputPlace } = {}): Promise<ImageTokensResult> {
    return this.call(async (parts) => {
      const internvl = this.requireChat(parts);
      return this.preprocessed(parts, image, opts, (pixels, shape, before) => imageTokens(internvl, pixels, shape, { keepOnGpu: opts.keepOnGpu, output: opts.output, before }));
    });
  }

  /** InternVL chat checkpoints: pixel_values (T, 3, S, S) (host, Tensor or GPUBuffer, as in embedPixels) → image tokens. */
  imageTokensFromPixels(pixels: HostArray | Tensor | GPUBuffer, shape: readonly number[], opts: { keepOnGpu?: boolean; output?: OutputPlace } = {}): Promise<ImageTokensOutput> {
    return this.call(async (parts) => {
      const internvl = this.requireChat(parts);
      if (!isGpuBuffer(pixels)) return imageTokens(internvl, pixels, shape, opts);
      const t = pixelBufferTensor(pixels, shape, 'imageTokensFromPixels');
      return withGpuBufferInput('imageTokensFromPixels', () => imageTokens(internvl, t, shape, opts));
    });
  }

  private requireChat(parts: Parts): InternVlVision {
    if (!parts.internvl) throw new Error('imageTokens needs an InternVL chat checkpoint (config.json with vision_config and llm_config); this one is a standalone InternViT');
    return parts.internvl;
  }

  /**
   * Restores the model after its device was lost (DeviceLostError): acquires a new device with the
   * load options (or uses `gpu`, required when load() was given one), loads the weights again from
   * the original source, and compiles plans again on first use. Outputs are the same as before the
   * loss. On a live device without `gpu` it does nothing; with `gpu` it moves the model there.
   * Calls made while it runs wait for it.
   */
  recover(gpu?: Gpu | GPUDevice): Promise<void> {
    if (this.disposed) return Promise.reject(new Error('InternViT.recover(): the model was disposed'));
    if (this.recovering) return this.recovering;
    let target: Gpu | undefined;
    try {
      // A GPUDevice (the app's) becomes a Gpu the runtime never destroys; a lost one is refused here.
      target = gpu === undefined || 'counters' in gpu ? gpu : gpuFromDevice(gpu);
    } catch (e) {
      return Promise.reject(e);
    }
    const run = this.reload(target).finally(() => {
      this.recovering = null;
    });
    this.recovering = run;
    return run;
  }

  private async reload(gpu?: Gpu): Promise<void> {
    const old = this.parts;
    if (gpu?.lostReason) throw new DeviceLostError(gpu.lostReason, 'InternViT.recover(gpu) needs a live device: pass a new one from getGpu()');
    if (!gpu && old.gpu.lostReason === null) return;
    if (!gpu && !old.ownsGpu) {
      throw new Error(old.gpu.appDevice
        ? "InternViT.recover(): this model runs on the app's device (load(…, { device })); pass a new one: model.recover(newDevice)"
        : 'InternViT.recover(): this model runs on a device passed to load() ({ gpu }); pass a new one: model.recover(await getGpu())');
    }
    const { parts } = await loadParts(this.source, this.options, gpu);
    if (this.disposed) {
      // dispose() came while the weights were loading.
      disposeParts(parts);
      return;
    }
    disposeParts(old);
    this.parts = parts;
  }

  /** Frees every GPU buffer (weights, plans) and the device if load() acquired it. */
  dispose(): void {
    this.disposed = true;
    disposeParts(this.parts);
  }
}

/**
 * "embed: one pass on this device takes up to 12 images at 448×448 (13 would break …); larger batches
 * run as micro-batches". The answer comes from recorded plans (maxBatch), nothing is allocated.
 */
export function describePass(call: string, items: string, size: number, fit: () => BatchFit): string {
  let f: BatchFit;
  try {
    f = fit();
  } catch (e) {
    return `${call}: ${(e as Error).message}`; // the LimitError says that even one input does not fit
  }
  const most = f.batch >= MAX_BATCH_SEARCH ? `at least ${f.batch}` : `up to ${f.batch}`;
  const why = f.limitedBy ? ` (${f.batch + 1} would break ${f.limitedBy})` : '';
  return `${call}: one pass on this device takes ${most} ${items} at ${size}×${size}${why}; larger batches run as micro-batches`;
}

/** Acquires a device (unless given one), loads and validates the weights, makes the plan cache. */
async function loadParts(source: string | CheckpointStore, options: LoadOptions, given?: Gpu): Promise<{ parts: Parts; config: ModelConfig }> {
  for (const k of ['planCacheBytes', 'preprocessCacheBytes'] as const) {
    const v = options[k];
    if (v !== undefined && !(typeof v === 'number' && v >= 0)) throw new Error(`InternViT.load: ${k} must be a number of bytes ≥ 0 or Infinity (got ${v})`);
  }
  throwIfAborted(options.signal);
  const gpu = given ?? (await getGpu({ limits: options.limits }));
  try {
    throwIfAborted(options.signal);
    const { encoder, config } = await loadEncoder(gpu, source, { ...options, projector: 'auto' });
    if (options.signal?.aborted) {
      disposeEncoder(encoder);
      throw abortReason(options.signal);
    }
    encoder.plans.setBudget(options.planCacheBytes ?? DEFAULT_PLAN_CACHE_BYTES);
    const preprocessPlans = createPreprocessCache(options.preprocessCacheBytes ?? DEFAULT_PREPROCESS_CACHE_BYTES);
    const internvl = config.chat ? { encoder, chat: config.chat, plans: encoder.plans } : null;
    return { parts: { gpu, encoder, internvl, preprocessPlans, ownsGpu: !given }, config };
  } catch (e) {
    if (!given) destroyGpu(gpu);
    throw e;
  }
}

/** Frees the weights and plans (token plans share the encoder's cache), and the device if owned. */
function disposeParts(parts: Parts): void {
  parts.preprocessPlans.clear();
  disposeEncoder(parts.encoder);
  if (parts.ownsGpu) destroyGpu(parts.gpu);
}

/** The compute precision line of describe(). */
export function describePrecision(precision: 'f32' | 'f16'): string {
  return precision === 'f16'
    ? 'precision: f16 (f16 activations and matmul/attention operands, f32 accumulation, statistics, softmax and residual stream)'
    : 'precision: f32';
}

/** "weights on the GPU: 0.61 GB (96 linear weights in bf16, the rest f32)". */
export function describeWeights(weights: ReadonlyMap<string, Tensor>): string {
  let bytes = 0;
  const half = new Map<string, number>();
  for (const t of weights.values()) {
    bytes += t.byteLength;
    const q = quantOf(t);
    const kind = q ? `${q.scheme}${q.scheme === 'int4' ? ` (group ${q.groupSize})` : ''} with f32 scales` : t.dtype;
    if (t.dtype !== 'f32') half.set(kind, (half.get(kind) ?? 0) + 1);
  }
  const size = bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
  const layout = half.size === 0 ? 'all f32' : `${[...half].map(([d, n]) => `${n} linear weights in ${d}`).join(', ')}, the rest f32`;
  return `weights on the GPU: ${size} (${layout})`;
}
