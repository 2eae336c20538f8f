// InternVL image tokens: encoder (up to the selected layer) → pixel shuffle → mlp1, as one plan per
// tile count. The encoder runs only the layers select_layer needs (−2 skips the last layer).
import type { Gpu } from '../runtime/device.js';
import { runPlans, type HostArray, type Stage } from '../runtime/executor.js';
import { compilePlan, createPlan, input, output, outputTensor, type CompiledPlan, type Plan, type PlanCache } from '../runtime/plan.js';
import { recordTuned, tunedVersions } from '../runtime/tuner.js';
import type { Lease } from '../runtime/lru.js';
import type { Tensor } from '../runtime/tensor.js';
import type { InternVlChatConfig, ModelConfig } from './config.js';
import { recordEncoder, tokenGrid, weightRefs } from './graph.js';
import { assertRunnable, disposeEncoder, loadEncoder, type HostOutput, type InternVitEncoder, type LoadEncoderOptions } from './internvit.js';
import { recordProjector } from './internvl-graph.js';
import { checkBatchInput, concatBatch, largestBatch, passSizes, sliceBatch, type BatchFit, type FitQuery } from './micro-batch.js';
import { checkFiniteOutputs } from './precision.js';
import { createGpuOutputs, type GpuOutput, type OutputPlace } from './gpu-io.js';

export interface InternVlVision {
  encoder: InternVitEncoder;
  chat: InternVlChatConfig;
  /** The encoder's plan cache: token plans and encoder plans share one byte budget. */
  plans: PlanCache;
}

/** Loads the vision encoder and mlp1 of an InternVL chat checkpoint; language-model tensors are never read. */
export async function loadInternVlVision(gpu: Gpu, source: Parameters<typeof loadEncoder>[1], opts: Omit<LoadEncoderOptions, 'projector'> = {}): Promise<{ model: InternVlVision; config: ModelConfig }> {
  const { encoder, config } = await loadEncoder(gpu, source, { ...opts, projector: true });
  if (!config.chat) {
    disposeEncoder(encoder);
    throw new Error('image tokens need an InternVL chat checkpoint (config.json with vision_config, llm_config, downsample_ratio)');
  }
  return { model: { encoder, chat: config.chat, plans: encoder.plans }, config };
}

/** hidden_states index InternVL feeds the projector: −1 → the last layer, −k → L+1−k, k ≥ 0 → k. */
export function selectedLayer(numLayers: number, selectLayer: number): number {
  const i = selectLayer < 0 ? numLayers + 1 + selectLayer : selectLayer;
  if (!Number.isInteger(i) || i < 0 || i > numLayers) {
    throw new Error(`select_layer ${selectLayer} is outside the encoder's ${numLayers + 1} hidden states`);
  }
  return i;
}

function checkTileShape(model: InternVlVision, shape: readonly number[]): [number, number, number, number] {
  if (model.encoder.disposed) throw new Error('InternViT encoder was disposed');
  const [tiles, channels, height, width] = shape as [number, number, number, number];
  if (shape.length !== 4 || channels !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`pixel_values must have shape (T, 3, S, S); got [${shape.join(', ')}]`);
  }
  if (model.chat.downsampleRatio !== 0.5) throw new Error(`downsample_ratio ${model.chat.downsampleRatio} is not supported (InternVL uses 0.5)`);
  tokenGrid(model.encoder.config, height, width);
  return [tiles, channels, height, width];
}

/** Records (does not compile) encoder → pixel shuffle → mlp1 for pixel_values `shape`. */
export function recordTokens(model: InternVlVision, shape: readonly number[]): Plan {
  const { encoder, chat } = model;
  const [tiles, , height, width] = shape as [number, number, number, number];
  const { hp, wp } = tokenGrid(encoder.config, height, width);
  const plan = createPlan(encoder.gpu, `internvl tokens ${tiles}×3×${height}×${width}`);
  plan.tunedVersions = tunedVersions(encoder.tuning);
  const pixels = input(plan, 'pixel_values', [tiles, 3, height, width]);
  const w = weightRefs(plan, encoder.weights);
  const layers = selectedLayer(encoder.config.numLayers, chat.selectLayer);
  const enc = recordEncoder(plan, encoder.config, pixels, w, new Set(), layers, encoder.precision);
  output(plan, 'image_tokens', recordProjector(plan, enc.lastHiddenState, w, { gridH: hp, gridW: wp, psVersion: chat.psVersion }, encoder.precision));
  return plan;
}

function fitQuery(model: InternVlVision, height: number, width: number): FitQuery {
  return {
    gpu: model.encoder.gpu, owner: model, key: `${height}x${width}`,
    record: (tiles) => recordTokens(model, [tiles, 3, height, width]),
    advice: `Even one ${height}×${width} tile does not fit this device in one pass: use 16-bit linear weights (weightStorage 'bf16') ` +
      'when the binding is a weight, or a device with larger limits',
  };
}

/** The largest tile count at S×S whose image tokens run in one pass on this device (see micro-batch.ts). */
export function maxTilesPerPass(model: InternVlVision, height: number, width: number, want = Infinity): BatchFit {
  checkTileShape(model, [1, 3, height, width]);
  return largestBatch(fitQuery(model, height, width), want);
}

/** The cached token plan for this shape, protected from eviction until the lease is released. */
async function tokensPlan(model: InternVlVision, shape: readonly number[]): Promise<Lease<CompiledPlan>> {
  const [tiles, , height, width] = checkTileShape(model, shape);
  return model.plans.acquire(`tokens ${tiles}x${height}x${width}`, async () => {
    assertRunnable(model.encoder);
    return compilePlan(await recordTuned(model.encoder.tuning, () => recordTokens(model, shape)));
  });
}

export interface ImageTokensOutput extends HostOutput {
  gpu?: Tensor;
  /** With output 'gpu': the tokens in a new GPU buffer the caller owns (and destroys); `data` is then empty. */
  buffer?: GpuOutput;
  /** With keepOnGpu: the plan behind `gpu` stays (not evicted) until the next call of this shape or release(). */
  release?: () => void;
  /** Tiles per pass: [T] in one pass, e.g. [6, 6, 1] when the stack was split to fit the device. */
  microBatches: number[];
}

/**
 * pixel_values (T, 3, S, S) → image tokens (T, tokens per tile, LLM hidden): one submit per pass.
 * A tile stack too large for the device's limits runs as passes of the largest count that fits;
 * each tile's tokens are bit-identical to a run of that tile alone.
 */
export async function imageTokens(
  model: InternVlVision, pixels: HostArray | Tensor, shape: readonly number[], opts: TokensOptions = {},
): Promise<ImageTokensOutput> {
  const [tiles] = checkTileShape(model, shape);
  if (opts.output !== undefined && opts.output !== 'host' && opts.output !== 'gpu') throw new Error(`output must be 'host' or 'gpu' (got '${String(opts.output)}')`);
  if (opts.output === 'gpu' && opts.keepOnGpu) throw new Error("output 'gpu' (a buffer you own) and keepOnGpu (a tensor the model owns) exclude each other: pick one");
  const owned: OwnedTokens | null = opts.output === 'gpu' ? { tiles } : null;
  try {
    const r = await tokensBatch(model, pixels, shape, opts, owned);
    if (owned) r.buffer = owned.out;
    return r;
  } catch (e) {
    owned?.out?.buffer.destroy();
    throw e;
  }
}

export interface TokensOptions {
  keepOnGpu?: boolean;
  before?: Stage[];
  /** 'gpu': the tokens copied (same submit) into a new GPUBuffer the caller owns (result.buffer). */
  output?: OutputPlace;
}

/** The caller-owned token buffer, made at the first pass (its plan gives the per-tile shape). */
interface OwnedTokens { tiles: number; out?: GpuOutput; start?: number }

async function tokensBatch(
  model: InternVlVision, pixels: HostArray | Tensor, shape: readonly number[], opts: TokensOptions, owned: OwnedTokens | null,
): Promise<ImageTokensOutput> {
  const [tiles, , height, width] = checkTileShape(model, shape);
  const fit = largestBatch(fitQuery(model, height, width), tiles);
  if (fit.batch >= tiles) return tokensOnce(model, pixels, shape, opts, owned, 0);
  const sizes = passSizes(tiles, fit.batch);
  if (opts.keepOnGpu) {
    throw new Error(`keepOnGpu: ${tiles} tiles at ${height}×${width} need ${sizes.length} passes on this device (at most ${fit.batch} ` +
      `tiles per pass; one more breaks ${fit.limitedBy}). GPU outputs exist per pass only: pass at most ${fit.batch} tiles per call, or read the tokens back`);
  }
  const itemBytes = 3 * height * width * 4;
  checkBatchInput(`internvl tokens ${tiles}×3×${height}×${width}`, 'pixel_values', pixels, shape, tiles * itemBytes);
  const parts: HostOutput[] = [];
  let start = 0;
  for (const [i, n] of sizes.entries()) {
    const slice = sliceBatch(pixels, [3, height, width], start, n, itemBytes);
    parts.push(await tokensOnce(model, slice, [n, 3, height, width], { before: i === 0 ? opts.before : undefined }, owned, start));
    start += n;
  }
  return { ...concatBatch(parts), microBatches: sizes };
}

async function tokensOnce(
  model: InternVlVision, pixels: HostArray | Tensor, shape: readonly number[], opts: TokensOptions, owned: OwnedTokens | null, start: number,
): Promise<ImageTokensOutput> {
  const lease = await tokensPlan(model, shape);
  try {
    let copyOut: Stage['copyOut'];
    if (owned) {
      const ref = lease.value.plan.outputs.get('image_tokens')!;
      owned.out ??= createGpuOutputs(model.encoder.gpu, [{ name: 'image_tokens', shape: [owned.tiles, ...ref.shape.slice(1)] }]).get('image_tokens')!;
      copyOut = [{ name: 'image_tokens', buffer: owned.out.buffer, offset: start * (ref.byteLength / shape[0]!) }];
    }
    const r = await tokensWith(lease, pixels, shape, opts, copyOut);
    if (copyOut) return r; // nothing on the host to check for non-finite values
    checkFiniteOutputs(model.encoder.precision, { image_tokens: r.data });
    return r;
  } finally {
    lease.release();
  }
}

async function tokensWith(
  lease: Lease<CompiledPlan>, pixels: HostArray | Tensor, shape: readonly number[], opts: TokensOptions, copyOut?: Stage['copyOut'],
): Promise<ImageTokensOutput> {
  const compiled = lease.value;
  const stages: Stage[] = [...(opts.before ?? []), { compiled, inputs: { pixel_values: pixels }, read: opts.keepOnGpu || copyOut ? [] : ['image_tokens'], copyOut }];
  const out = (await runPlans(stages)).at(-1)!;
  const ref = compiled.plan.outputs.get('image_tokens')!;
  return {
    data: (out.image_tokens as Float32Array | undefined) ?? new Float32Array(0),
    shape: [...ref.shape],
    gpu: opts.keepOnGpu ? outputTensor(compiled, 'image_tokens') : undefined,
    release: opts.keepOnGpu ? lease.hold() : undefined,
    microBatches: [shape[0]!],
  };
}

export function disposeInternVlVision(model: InternVlVision): void {
  model.plans.clear();
  disposeEncoder(model.encoder);
}
