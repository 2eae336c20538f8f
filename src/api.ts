// The one-call API: load once, then embed images (or pixel tensors) and, for InternVL chat
// checkpoints, produce the image tokens a language model consumes.
//
//   const model = await InternViT.load('OpenGVLab/InternViT-300M-448px-V2_5');
//   const { lastHiddenState, poolerOutput } = await model.embed(imageElement);
//   model.dispose();
import { describeGpu, destroyGpu, getGpu, type Gpu } from './runtime/device.js';
import type { HostArray, Stage } from './runtime/executor.js';
import type { CheckpointStore, LoadProgress } from './runtime/loader.js';
import type { Tensor } from './runtime/tensor.js';
import type { ModelConfig } from './model/config.js';
import type { DecodedImage, ImageInput } from './model/image.js';
import { disposeEncoder, encode, loadEncoder, maxBatch, type ForwardResult, type HostOutput, type InternVitEncoder } from './model/internvit.js';
import { MAX_BATCH_SEARCH, type BatchFit } from './model/micro-batch.js';
import { imageTokens, maxTilesPerPass, type ImageTokensOutput, type InternVlVision } from './model/internvl.js';
import { disposePlan } from './runtime/plan.js';
import { preprocessStage, withPreprocessLock, type PreprocessMode, type PreprocessOptions } from './model/preprocess.js';
import type { Grid } from './model/tiling.js';
import { paramCount } from './model/presets.js';
import type { WeightStorage } from './model/weights.js';

export interface LoadOptions {
  /** A device to use; by default one is acquired (and destroyed by dispose()). */
  gpu?: Gpu;
  onProgress?: (p: LoadProgress) => void;
  /** Hugging Face base URL for hub ids (default https://huggingface.co), revision, token, custom fetch. */
  hubUrl?: string;
  revision?: string;
  token?: string;
  fetch?: typeof fetch;
  /**
   * How linear-layer weights are kept on the GPU: 'auto' (default) as in the checkpoint, so BF16
   * checkpoints stay bf16 (exact, half of f32's memory); 'f32', 'bf16' or 'f16' to choose. The
   * arithmetic is f32 in every case.
   */
  weightStorage?: WeightStorage;
}

export interface ImageOptions extends Omit<PreprocessOptions, 'mode'> {
  /** 'internvl' (dynamic tiles + thumbnail, default), 'clip' (short side + center crop) or 'none' (squash). */
  preprocess?: PreprocessMode;
}

export interface EmbedOptions extends ImageOptions {
  hiddenStates?: boolean | readonly number[];
  /**
   * Leave outputs on the GPU: tensors owned by the model, valid until the next call with the same tile
   * count. Refused (with the count per pass) when the tiles need several passes on this device.
   */
  keepOnGpu?: boolean;
  /** Time every op with timestamp queries (a separate profiled plan; needs 'timestamp-query'): result.profile. */
  profile?: boolean;
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
  /** Tiles per pass: [T] in one pass, e.g. [6, 6, 1] when the stack was split to fit the device. */
  microBatches: number[];
}

export class InternViT {
  private constructor(
    readonly gpu: Gpu,
    readonly config: ModelConfig,
    private readonly encoder: InternVitEncoder,
    private readonly internvl: InternVlVision | null,
    private readonly ownsGpu: boolean,
  ) {}

  /** Loads a checkpoint: a local folder (Node), a URL prefix, or a Hugging Face model id. */
  static async load(source: string | CheckpointStore, options: LoadOptions = {}): Promise<InternViT> {
    const gpu = options.gpu ?? (await getGpu());
    try {
      const { encoder, config } = await loadEncoder(gpu, source, { ...options, projector: 'auto' });
      const internvl = config.chat ? { encoder, chat: config.chat, plans: new Map() } : null;
      return new InternViT(gpu, config, encoder, internvl, !options.gpu);
    } catch (e) {
      if (!options.gpu) destroyGpu(gpu);
      throw e;
    }
  }

  /** Adapter, model shape and size in a few lines. */
  describe(): string {
    const v = this.config.vision;
    const lines = [
      describeGpu(this.gpu),
      `InternViT: ${v.numLayers} layers, hidden ${v.hiddenSize}, ${v.numHeads} heads, MLP ${v.intermediateSize}, ` +
        `${v.normType}${v.qkNormalization ? ' + QK norm' : ''}, image ${v.imageSize}/${v.patchSize}, ${(paramCount(v) / 1e6).toFixed(1)} M params`,
    ];
    lines.push(describeWeights(this.encoder.weights));
    lines.push(describePass('embed', 'images', v.imageSize, () => maxBatch(this.encoder, v.imageSize, v.imageSize)));
    if (this.config.chat) {
      const c = this.config.chat;
      lines.push(`InternVL projector: pixel shuffle ${c.psVersion} → ${c.numImageTokens} tokens/tile → LLM hidden ${c.llmHiddenSize}, select_layer ${c.selectLayer}`);
      const internvl = this.internvl!;
      lines.push(describePass('imageTokens', 'tiles', c.imageSize, () => maxTilesPerPass(internvl, c.imageSize, c.imageSize)));
    }
    return lines.join('\n');
  }

  /** Preprocessing as a stage of the model's run: one command buffer per image, nothing allocated. */
  private async preprocessed<T>(image: ImageInput | DecodedImage, opts: ImageOptions, run: (pixels: Tensor, shape: number[], before: Stage[]) => Promise<T>): Promise<T & { tiles: TileInfo }> {
    const size = opts.size ?? this.config.chat?.imageSize ?? this.config.vision.imageSize;
    const { preprocess: mode, ...rest } = opts;
    const p = await preprocessStage(this.gpu, image, { ...rest, mode: mode ?? 'internvl', size });
    const out = await withPreprocessLock(p.cached, () => run(p.pixelValues, p.shape, [p.stage]));
    return { ...out, tiles: { count: p.tiles, grid: p.grid } };
  }

  /** Image → preprocessing on the GPU → encoder outputs for every tile (one submit). */
  async embed(image: ImageInput | DecodedImage, opts: EmbedOptions = {}): Promise<EmbedResult> {
    return this.preprocessed(image, opts, (pixels, shape, before) => encode(this.encoder, pixels, shape, { ...opts, before }));
  }

  /** pixel_values (B, 3, H, W) already prepared (host array or GPU tensor) → encoder outputs. */
  embedPixels(pixels: HostArray | Tensor, shape: readonly number[], opts: Omit<EmbedOptions, keyof ImageOptions> = {}): Promise<ForwardResult> {
    return encode(this.encoder, pixels, shape, opts);
  }

  /** InternVL chat checkpoints: image → (tiles, tokens per tile, LLM hidden) image tokens (one submit). */
  async imageTokens(image: ImageInput | DecodedImage, opts: ImageOptions & { keepOnGpu?: boolean } = {}): Promise<ImageTokensResult> {
    const internvl = this.requireChat();
    return this.preprocessed(image, opts, (pixels, shape, before) => imageTokens(internvl, pixels, shape, { keepOnGpu: opts.keepOnGpu, before }));
  }

  /** InternVL chat checkpoints: pixel_values (T, 3, S, S) → image tokens. */
  imageTokensFromPixels(pixels: HostArray | Tensor, shape: readonly number[], opts: { keepOnGpu?: boolean } = {}): Promise<ImageTokensOutput> {
    return imageTokens(this.requireChat(), pixels, shape, opts);
  }

  private requireChat(): InternVlVision {
    if (!this.internvl) throw new Error('imageTokens needs an InternVL chat checkpoint (config.json with vision_config and llm_config); this one is a standalone InternViT');
    return this.internvl;
  }

  /** Frees every GPU buffer (weights, plans) and the device if load() acquired it. */
  dispose(): void {
    if (this.internvl) for (const p of this.internvl.plans.values()) disposePlan(p);
    disposeEncoder(this.encoder);
    if (this.ownsGpu) destroyGpu(this.gpu);
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

/** "weights on the GPU: 0.61 GB (96 linear weights in bf16, the rest f32)". */
export function describeWeights(weights: ReadonlyMap<string, Tensor>): string {
  let bytes = 0;
  const half = new Map<string, number>();
  for (const t of weights.values()) {
    bytes += t.byteLength;
    if (t.dtype !== 'f32') half.set(t.dtype, (half.get(t.dtype) ?? 0) + 1);
  }
  const size = bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
  const layout = half.size === 0 ? 'all f32' : `${[...half].map(([d, n]) => `${n} linear weights in ${d}`).join(', ')}, the rest f32`;
  return `weights on the GPU: ${size} (${layout})`;
}
