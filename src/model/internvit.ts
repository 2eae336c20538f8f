// An InternViT encoder on the GPU: weights uploaded once, one compiled plan per input shape (and set
// of requested hidden states), reused for every forward.
import type { Gpu } from '../runtime/device.js';
import { runPlans, type HostArray, type Stage } from '../runtime/executor.js';
import {
  compilePlan, createPlan, createPlanCache, input, output, outputTensor, type CompiledPlan, type Plan, type PlanCache,
} from '../runtime/plan.js';
import type { Lease } from '../runtime/lru.js';
import { disposeTensor, tensorBytes, uploadTensor, type Tensor } from '../runtime/tensor.js';
import { toHalfBits } from '../runtime/dtype.js';
import type { OpTime } from '../runtime/profiler.js';
import { openCheckpoint, type OpenCheckpointOptions } from '../runtime/loader.js';
import { parseConfig, type InternVitConfig, type InternVlChatConfig, type ModelConfig } from './config.js';
import { recordEncoder, tokenGrid, weightRefs } from './graph.js';
import { disposeWeights, expectedTensors, linearWeightDType, loadWeights, type LinearStorage, type WeightStorage } from './weights.js';
import { checkpointQuantization, quantOf, SCALE_SUFFIX, type QuantizedTensor } from './quantized.js';
import { scalesPerRow, INT4_GROUP_SIZE, quantizeRows, quantLayout, scalesShape, wordsPerRow } from '../runtime/quant.js';
import { checkAgainstPreset } from './presets.js';
import { checkBatchInput, concatBatch, largestBatch, passSizes, sliceBatch, type BatchFit, type FitQuery } from './micro-batch.js';
import { checkFiniteOutputs, resolvePrecision, type Precision } from './precision.js';
import type { ActDType } from '../kernels/matmul.js';
import { createGpuOutputs, type GpuOutput, type GpuOutputs, type OutputPlace } from './gpu-io.js';
import { VERSION_TABLES } from '../kernels/versions-registry.js';
import { describeChoices, openTuning, parseTuneMode, recordTuned, tunedVersions, type TuneMode, type TuneOptions, type Tuning } from '../runtime/tuner.js';

export interface InternVitEncoder {
  gpu: Gpu;
  config: InternVitConfig;
  /** Weights by state-dict name without prefix: f32 on the GPU, linear weights f32, bf16 or f16. */
  weights: Map<string, Tensor>;
  /** Compiled plans by shape and options: an LRU with a byte budget (InternVL token plans share it). */
  plans: PlanCache;
  disposed: boolean;
  /** What the plans compute in (resolved from the load option; see src/model/precision.ts). */
  precision: ActDType;
  /** Kernel version choices for this device (src/runtime/tuner.ts); absent: the tables' heuristics. */
  tuning?: Tuning;
}

export interface ForwardOptions {
  /** true: all L+1 hidden states; a list: those indices (0 = embeddings, l = after layer l). */
  hiddenStates?: boolean | readonly number[];
  /** Leave outputs on the GPU (the result holds tensors valid until the next forward of this shape). */
  keepOnGpu?: boolean;
  /** Time every op with timestamp queries (compiles a separate profiled plan). */
  profile?: boolean;
  /** Plans to run first in the same command buffer (e.g. preprocessStage producing `pixels`). */
  before?: Stage[];
  /**
   * 'gpu': every output is copied, in the forward's command buffer, into a new GPU buffer the caller
   * owns (result.buffers; the host outputs are then empty). See src/model/gpu-io.ts.
   */
  output?: OutputPlace;
}

export interface HostOutput {
  data: Float32Array;
  shape: number[];
}

export interface ForwardResult {
  lastHiddenState: HostOutput;
  poolerOutput: HostOutput;
  hiddenStates?: HostOutput[];
  /**
   * With keepOnGpu: the GPU tensors, valid until the next forward with the same shape and options.
   * They keep their plan from eviction until then; release() lets it go earlier.
   */
  gpu?: { lastHiddenState: Tensor; poolerOutput: Tensor; hiddenStates?: Tensor[]; release(): void };
  /** With profile: every op of every pass, in order (an op appears once per micro-batch). */
  profile?: OpTime[];
  /** Images per pass: [B] when the batch fit the device in one pass, e.g. [6, 6, 1] when split. */
  microBatches: number[];
  /** With output 'gpu': the outputs in new GPU buffers the caller owns (and destroys). */
  buffers?: GpuOutputs;
}

/** Wraps weights already on the GPU; checks every expected tensor is there with the right shape and dtype. */
export function encoderFromWeights(gpu: Gpu, config: InternVitConfig, weights: Map<string, Tensor>, precision: Precision = 'f32'): InternVitEncoder {
  const resolved = resolvePrecision(gpu, precision);
  const problems: string[] = [];
  for (const { name, shape, linear } of expectedTensors(config)) {
    const t = weights.get(name);
    if (!t) problems.push(`missing ${name}`);
    else if (linear && quantOf(t)) {
      // int8 / int4: the layout must describe this weight and its scales must be there.
      const l = quantOf(t)!;
      const scales = weights.get(name + SCALE_SUFFIX);
      if (l.rows !== shape[0] || l.cols !== shape[1] || t.dtype !== 'u32' || t.shape[1] !== wordsPerRow(l)) {
        problems.push(`${name}: ${l.scheme} layout [${l.rows}, ${l.cols}] on u32 ${t.shape.join('×')} does not fit [${shape.join(', ')}]`);
      } else if (!scales || scales.dtype !== 'f32' || scales.byteLength !== 4 * l.rows * scalesPerRow(l)) {
        problems.push(`${name}: ${l.scheme} needs f32 scales '${name}${SCALE_SUFFIX}' with ${l.rows * scalesPerRow(l)} values`);
      }
    } else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      problems.push(`${name}: expected [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
    } else if (t.dtype !== 'f32' && !(linear && (t.dtype === 'bf16' || t.dtype === 'f16'))) {
      problems.push(`${name}: expected ${linear ? 'f32, bf16 or f16' : 'f32'} on the GPU, got ${t.dtype}`);
    }
  }
  if (problems.length) throw new Error(`InternViT weights do not match the config: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? ` (+${problems.length - 8} more)` : ''}`);
  return { gpu, config, weights, plans: createPlanCache(), disposed: false, precision: resolved };
}

export interface LoadEncoderOptions extends OpenCheckpointOptions {
  /** Also load InternVL's mlp1 projector: true (chat checkpoints only), or 'auto' (when the config has one). */
  projector?: boolean | 'auto';
  /**
   * How linear-layer weights are kept on the GPU (default 'auto': as in the checkpoint; see
   * WeightStorage; with precision 'f16', 'auto' stores them f16, the matmuls' f16 operand).
   */
  weightStorage?: WeightStorage;
  /** 'f32' (default, exact parity), 'f16' (needs shader-f16) or 'auto' (f16 where available). */
  precision?: Precision;
  /** weightStorage 'int4' from a float checkpoint: input channels per scale (32, 64 or 128; default INT4_GROUP_SIZE, 32). */
  quantGroupSize?: number;
  /** Kernel version choices: 'cache' (default), 'off', 'fast' or 'full' (src/runtime/tuner.ts), or the full options. */
  tune?: TuneMode | TuneOptions;
}

/**
 * Opens a checkpoint (folder, URL prefix or hub id), validates every tensor against config.json,
 * streams the weights to the GPU (f32; linear weights per `weightStorage`). Returns the encoder and the parsed config (with the chat
 * part for InternVL checkpoints); projector weights, when asked for, are in the same map.
 */
export async function loadEncoder(gpu: Gpu, source: Parameters<typeof openCheckpoint>[0], opts: LoadEncoderOptions = {}): Promise<{ encoder: InternVitEncoder; config: ModelConfig }> {
  const tune = opts.tune ?? 'cache';
  parseTuneMode(typeof tune === 'string' ? tune : tune.mode ?? 'cache'); // a bad mode fails before any read
  const ckpt = await openCheckpoint(source, opts);
  try {
    if (ckpt.config === null) throw new Error(`${ckpt.location}: no config.json`);
    const config = parseConfig(ckpt.config, ckpt.configFile);
    if (typeof source === 'string') checkAgainstPreset(source, config.vision, ckpt.configFile);
    const projector = opts.projector === 'auto' ? config.chat !== null : !!opts.projector;
    // Resolved before any weight is read: 'f16' on a device without shader-f16 fails here.
    const precision = resolvePrecision(gpu, opts.precision);
    // precision 'f16' stores float weights f16 by default; a pre-quantized checkpoint stays as it is.
    const quantized = checkpointQuantization(ckpt.config, ckpt.configFile) !== null;
    const weightStorage = opts.weightStorage ?? (precision === 'f16' && !quantized ? 'f16' : 'auto');
    const weights = await loadWeights(gpu, ckpt, config, { projector, weightStorage, signal: opts.signal, ...(opts.quantGroupSize ? { groupSize: opts.quantGroupSize } : {}) });
    try {
      // The weight cache keeps whole files: it reads what follows the last tensor needed.
      await ckpt.store.complete?.();
    } catch (e) {
      disposeWeights(gpu, weights);
      throw e;
    }
    const vision = new Map([...weights].filter(([k]) => !k.startsWith('mlp1.')));
    const encoder = encoderFromWeights(gpu, config.vision, vision, precision);
    for (const [k, t] of weights) if (k.startsWith('mlp1.')) encoder.weights.set(k, t);
    encoder.tuning = await tuneEncoder(encoder, tune);
    return { encoder, config };
  } finally {
    await ckpt.close();
  }
}

/**
 * Deterministic pseudo-random weights with realistic scales (benchmarks; no download). They count as
 * an F32 checkpoint: weightStorage 'auto' and 'f32' store f32; 'bf16' / 'f16' round the linear
 * weights (so the values differ from the f32 encoder's by that rounding).
 */
export function randomEncoder(gpu: Gpu, config: InternVitConfig, seed = 1, opts: { weightStorage?: WeightStorage; precision?: Precision } = {}): InternVitEncoder {
  const precision = resolvePrecision(gpu, opts.precision);
  const storage = opts.weightStorage ?? (precision === 'f16' ? 'f16' : 'auto');
  const weights = new Map<string, Tensor>();
  let state = seed >>> 0 || 1;
  const next = () => {
    // xorshift32: fast enough for billions of values, and deterministic.
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    return state / 4294967296 - 0.5;
  };
  for (const { name, shape, linear } of expectedTensors(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const leaf = name.split('.').pop()!;
    const isNorm = /norm/.test(name) && leaf === 'weight';
    const [base, spread] = isNorm ? [1, 0.2] : /ls[12]$/.test(name) ? [0.5, 0.4] : leaf === 'bias' ? [0, 0.04] : [0, 0.04];
    for (let i = 0; i < n; i++) data[i] = base + spread * next();
    const dtype = linear ? linearWeightDType(storage, 'F32') : 'f32';
    if (dtype === 'int8' || dtype === 'int4') {
      const l = quantLayout(dtype, shape[0]!, shape[1]!, INT4_GROUP_SIZE);
      const q = quantizeRows(data, l.rows, l, name);
      const t: QuantizedTensor = { ...uploadTensor(gpu, q.packed, [l.rows, wordsPerRow(l)], 'u32', name), quant: l };
      weights.set(name, t);
      weights.set(name + SCALE_SUFFIX, uploadTensor(gpu, q.scales, scalesShape(l), 'f32', name + SCALE_SUFFIX));
      continue;
    }
    weights.set(name, dtype === 'f32' ? uploadTensor(gpu, data, shape, 'f32', name) : uploadTensor(gpu, toHalfBits(data, dtype, name), shape, dtype, name));
  }
  return { gpu, config, weights, plans: createPlanCache(), disposed: false, precision };
}

/** The encoder's tuning state for its device (read from the per-adapter cache unless 'off'). */
export function tuneEncoder(encoder: InternVitEncoder, tune: TuneMode | TuneOptions = 'cache'): Promise<Tuning> {
  return openTuning(encoder.gpu, VERSION_TABLES, tune);
}

/**
 * describe()'s kernel-version lines: the mode and cache, then each op shape's version and where it
 * came from (tuned / heuristic / explicit), for the plans compiled so far, or else for a one-image
 * forward at the model's size (recorded, not compiled).
 */
export function describeVersions(model: InternVitEncoder): string[] {
  const t = model.tuning;
  const head = !t ? 'kernel versions: the tables\' heuristics (no tuning state)'
    : t.mode === 'off' ? "kernel versions (tune 'off': the tables' heuristics, cache not read)"
      : `kernel versions (tune '${t.mode}', cache ${t.store?.location ?? 'none'}: ${t.results.size} tuned op shape${t.results.size === 1 ? '' : 's'} for this adapter)`;
  let choices = t ? [...t.used.values()] : [];
  let what = 'compiled plans';
  if (!choices.length) {
    const s = model.config.imageSize;
    try {
      choices = recordForward(model, [1, 3, s, s], []).versionLog ?? [];
      what = `a 1×3×${s}×${s} forward`;
    } catch (e) {
      return [head, `  (cannot record a ${s}×${s} forward: ${(e as Error).message})`];
    }
  }
  return [`${head}, ${what}:`, ...describeChoices(choices, t).map((l) => `  ${l}`)];
}

// Encoders made by shapeOnlyEncoder: their weights have no GPU buffers, so they may record, never compile.
const shapeOnly = new WeakSet<InternVitEncoder>();

/**
 * An encoder for sizing questions only (maxBatch, maxTilesPerPass): every expected weight (and the
 * projector's, with `chat`) as shape and dtype without a GPU buffer. Nothing is read or uploaded, so
 * `internvit info --gpu` can ask a device about a 6B model it never loads. It cannot run.
 */
export function shapeOnlyEncoder(gpu: Gpu, config: InternVitConfig, linear: LinearStorage, chat: InternVlChatConfig | null = null): InternVitEncoder {
  const weights = new Map<string, Tensor>();
  // No GPU memory behind it: only disposeEncoder touches it (size 0, destroy does nothing); assertRunnable keeps it out of bindings.
  const noBuffer = { size: 0, label: 'shape-only', destroy: () => undefined } as unknown as GPUBuffer;
  for (const t of expectedTensors(config, { projector: chat })) {
    if (t.linear && (linear === 'int8' || linear === 'int4')) {
      const l = quantLayout(linear, t.shape[0]!, t.shape[1]!, INT4_GROUP_SIZE);
      const packed = [l.rows, wordsPerRow(l)];
      const q: QuantizedTensor = { buffer: noBuffer, shape: packed, dtype: 'u32', byteLength: tensorBytes(packed, 'u32'), label: t.name, quant: l };
      weights.set(t.name, q);
      weights.set(t.name + SCALE_SUFFIX, { buffer: noBuffer, shape: scalesShape(l), dtype: 'f32', byteLength: tensorBytes(scalesShape(l), 'f32'), label: t.name + SCALE_SUFFIX });
      continue;
    }
    const dtype = t.linear ? (linear as 'f32' | 'bf16' | 'f16') : 'f32';
    weights.set(t.name, { buffer: noBuffer, shape: t.shape, dtype, byteLength: tensorBytes(t.shape, dtype), label: t.name });
  }
  // Sized at f32 activations: at least what an f16 encoder of the same shapes needs.
  const encoder: InternVitEncoder = { gpu, config, weights, plans: createPlanCache(), disposed: false, precision: 'f32' };
  shapeOnly.add(encoder);
  return encoder;
}

/** Compiling needs real weight buffers: refuses a shape-only encoder before anything is allocated. */
export function assertRunnable(model: InternVitEncoder): void {
  if (shapeOnly.has(model)) throw new Error('this encoder was made by shapeOnlyEncoder (for sizing): it has no weights on the GPU and cannot run');
}

function hiddenIndices(config: InternVitConfig, opt: ForwardOptions['hiddenStates']): number[] {
  if (!opt) return [];
  if (opt === true) return Array.from({ length: config.numLayers + 1 }, (_, i) => i);
  for (const i of opt) {
    if (!Number.isInteger(i) || i < 0 || i > config.numLayers) {
      throw new Error(`hidden_states index ${i} is outside 0..${config.numLayers}`);
    }
  }
  return [...new Set(opt)].sort((a, b) => a - b);
}

function checkPixelShape(model: InternVitEncoder, shape: readonly number[]): [number, number, number, number] {
  if (model.disposed) throw new Error('InternViT encoder was disposed');
  const [batch, channels, height, width] = shape as [number, number, number, number];
  if (shape.length !== 4 || channels !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`pixel_values must have shape (B, 3, H, W); got [${shape.join(', ')}]`);
  }
  tokenGrid(model.config, height, width);
  return [batch, channels, height, width];
}

/** Records (does not compile: nothing is allocated) the forward of pixel_values `shape`. */
export function recordForward(model: InternVitEncoder, shape: readonly number[], hidden: readonly number[]): Plan {
  const [batch, , height, width] = shape as [number, number, number, number];
  const plan = createPlan(model.gpu, `internvit ${batch}×3×${height}×${width}`);
  plan.tunedVersions = tunedVersions(model.tuning);
  const pixels = input(plan, 'pixel_values', [batch, 3, height, width]);
  const w = weightRefs(plan, model.weights);
  const out = recordEncoder(plan, model.config, pixels, w, new Set(hidden), model.config.numLayers, model.precision);
  output(plan, 'last_hidden_state', out.lastHiddenState);
  output(plan, 'pooler_output', out.poolerOutput);
  for (const i of hidden) output(plan, `hidden_states.${i}`, out.hiddenStates.get(i)!);
  return plan;
}

function fitQuery(model: InternVitEncoder, height: number, width: number, hidden: readonly number[]): FitQuery {
  return {
    gpu: model.gpu, owner: model, key: `${height}x${width}|h${hidden.join(',')}`,
    record: (batch) => recordForward(model, [batch, 3, height, width], hidden),
    advice: `Even one ${height}×${width} image does not fit this device in one pass: use smaller images, 16-bit linear weights ` +
      `(weightStorage 'bf16') when the binding is a weight, or a device with larger limits`,
  };
}

/**
 * The largest batch of H×W images (with these hidden states) that runs in one pass on this device:
 * at most `want` (default: search up to MAX_BATCH_SEARCH). Recorded plans checked with
 * planLimitViolations, cached per model and shape. Throws a LimitError when one image does not fit.
 */
export function maxBatch(model: InternVitEncoder, height: number, width: number, opts: { hiddenStates?: ForwardOptions['hiddenStates']; want?: number } = {}): BatchFit {
  checkPixelShape(model, [1, 3, height, width]);
  return largestBatch(fitQuery(model, height, width, hiddenIndices(model.config, opts.hiddenStates)), opts.want ?? Infinity);
}

/**
 * The compiled forward for one input shape; compiled on first use, then reused while it stays in the
 * plan cache (a plan evicted later is disposed: runs should go through encode()).
 */
export async function forwardPlan(model: InternVitEncoder, shape: readonly number[], options: ForwardOptions = {}): Promise<CompiledPlan> {
  const lease = await leaseForwardPlan(model, shape, options);
  lease.release();
  return lease.value;
}

/** The cached forward plan for this shape, protected from eviction until the lease is released. */
export async function leaseForwardPlan(model: InternVitEncoder, shape: readonly number[], options: ForwardOptions): Promise<Lease<CompiledPlan>> {
  const [batch, , height, width] = checkPixelShape(model, shape);
  const hidden = hiddenIndices(model.config, options.hiddenStates);
  const key = `${batch}x${height}x${width}|h${hidden.join(',')}|${options.profile ? 'p' : ''}`;
  return model.plans.acquire(key, async () => {
    assertRunnable(model);
    return compilePlan(await recordTuned(model.tuning, () => recordForward(model, shape, hidden)), { profile: options.profile });
  });
}

/**
 * A forward: one command buffer and one submit per pass. A batch too large for the device's limits
 * runs as passes of the largest batch that fits (see maxBatch); outputs are joined along the batch.
 * The per-image results are bit-identical either way: every image goes through the same kernels.
 */
export async function encode(
  model: InternVitEncoder, pixels: HostArray | Tensor, shape: readonly number[], options: ForwardOptions = {},
): Promise<ForwardResult> {
  const [batch, , height, width] = checkPixelShape(model, shape);
  if (options.output !== undefined && options.output !== 'host' && options.output !== 'gpu') throw new Error(`output must be 'host' or 'gpu' (got '${String(options.output)}')`);
  if (options.output === 'gpu' && options.keepOnGpu) throw new Error("output 'gpu' (buffers you own) and keepOnGpu (tensors the model owns) exclude each other: pick one");
  if (options.output === 'gpu' && options.profile) throw new Error("output 'gpu' cannot be combined with profile");
  const hidden = hiddenIndices(model.config, options.hiddenStates);
  const fit = largestBatch(fitQuery(model, height, width, hidden), batch);
  const owned = options.output === 'gpu' ? createGpuOutputs(model.gpu, outputShapes(model, shape, hidden)) : null;
  try {
    const r = await encodeBatch(model, pixels, shape, fit, options, owned);
    if (owned) r.buffers = gpuOutputs(owned);
    return r;
  } catch (e) {
    for (const o of owned?.values() ?? []) o.buffer.destroy();
    throw e;
  }
}

/** The encoder's outputs for pixel_values `shape`: names and shapes, as recordForward makes them. */
function outputShapes(model: InternVitEncoder, shape: readonly number[], hidden: readonly number[]): { name: string; shape: number[] }[] {
  const [batch, , height, width] = shape as [number, number, number, number];
  const { tokens } = tokenGrid(model.config, height, width);
  const D = model.config.hiddenSize;
  return [
    { name: 'last_hidden_state', shape: [batch, tokens, D] },
    { name: 'pooler_output', shape: [batch, D] },
    ...hidden.map((i) => ({ name: `hidden_states.${i}`, shape: [batch, tokens, D] })),
  ];
}

function gpuOutputs(owned: Map<string, GpuOutput>): GpuOutputs {
  const hidden = [...owned.keys()].filter((n) => n.startsWith('hidden_states.'));
  return {
    lastHiddenState: owned.get('last_hidden_state')!,
    poolerOutput: owned.get('pooler_output')!,
    hiddenStates: hidden.length ? hidden.map((n) => owned.get(n)!) : undefined,
  };
}

async function encodeBatch(
  model: InternVitEncoder, pixels: HostArray | Tensor, shape: readonly number[], fit: BatchFit, options: ForwardOptions, owned: Map<string, GpuOutput> | null,
): Promise<ForwardResult> {
  const [batch, , height, width] = shape as [number, number, number, number];
  if (fit.batch >= batch) return encodeOnce(model, pixels, shape, options, owned, 0, batch);
  const sizes = passSizes(batch, fit.batch);
  if (options.keepOnGpu) {
    throw new Error(`keepOnGpu: a batch of ${batch} at ${height}×${width} needs ${sizes.length} passes on this device (at most ${fit.batch} ` +
      `images per pass; one more breaks ${fit.limitedBy}). GPU outputs exist per pass only: pass at most ${fit.batch} images per call, or read the outputs back`);
  }
  const itemBytes = 3 * height * width * 4;
  checkBatchInput(`internvit ${batch}×3×${height}×${width}`, 'pixel_values', pixels, shape, batch * itemBytes);
  const parts: ForwardResult[] = [];
  let start = 0;
  for (const [i, n] of sizes.entries()) {
    // Preprocessing stages run with the first pass; later passes read their slice of its output.
    const slice = sliceBatch(pixels, [3, height, width], start, n, itemBytes);
    parts.push(await encodeOnce(model, slice, [n, 3, height, width], { ...options, before: i === 0 ? options.before : undefined }, owned, start, batch));
    start += n;
  }
  const hidden = parts[0]!.hiddenStates;
  return {
    lastHiddenState: concatBatch(parts.map((p) => p.lastHiddenState)),
    poolerOutput: concatBatch(parts.map((p) => p.poolerOutput)),
    hiddenStates: hidden?.map((_, k) => concatBatch(parts.map((p) => p.hiddenStates![k]!))),
    profile: options.profile ? parts.flatMap((p) => p.profile ?? []) : undefined,
    microBatches: sizes,
  };
}

/** One pass: one command buffer, one submit. */
async function encodeOnce(
  model: InternVitEncoder, pixels: HostArray | Tensor, shape: readonly number[], options: ForwardOptions,
  owned: Map<string, GpuOutput> | null, start: number, batch: number,
): Promise<ForwardResult> {
  const lease = await leaseForwardPlan(model, shape, options);
  try {
    // Caller-owned outputs: this pass's images go to their place along the batch of each buffer.
    const copyOut = owned && [...owned].map(([name, o]) => {
      const ref = lease.value.plan.outputs.get(name);
      if (!ref || ref.dtype !== 'f32' || ref.byteLength * batch !== o.byteLength * shape[0]!) throw new Error(`internal: output '${name}' of the plan does not match its caller-owned buffer`);
      return { name, buffer: o.buffer, offset: (o.byteLength / batch) * start };
    });
    const r = await encodeWith(lease, pixels, shape, options, copyOut);
    if (copyOut) return r; // no host copy to check: f16 non-finite values are not detected on this path
    checkFiniteOutputs(model.precision, {
      last_hidden_state: r.lastHiddenState.data, pooler_output: r.poolerOutput.data,
      ...Object.fromEntries((r.hiddenStates ?? []).map((h, i) => [`hidden_states[${i}]`, h.data])),
    });
    return r;
  } finally {
    lease.release();
  }
}

async function encodeWith(
  lease: Lease<CompiledPlan>, pixels: HostArray | Tensor, shape: readonly number[], options: ForwardOptions, copyOut: Stage['copyOut'] | null,
): Promise<ForwardResult> {
  const compiled = lease.value;
  const names = [...compiled.plan.outputs.keys()];
  const stages: Stage[] = [...(options.before ?? []), { compiled, inputs: { pixel_values: pixels }, read: options.keepOnGpu || copyOut ? [] : names, copyOut: copyOut ?? undefined }];
  const outs = (await runPlans(stages)).at(-1)!;
  const host = (name: string): HostOutput => ({
    data: (outs[name] as Float32Array | undefined) ?? new Float32Array(0),
    shape: [...compiled.plan.outputs.get(name)!.shape],
  });
  const hiddenNames = names.filter((n) => n.startsWith('hidden_states.'));
  const result: ForwardResult = {
    lastHiddenState: host('last_hidden_state'),
    poolerOutput: host('pooler_output'),
    hiddenStates: hiddenNames.length ? hiddenNames.map(host) : undefined,
    profile: compiled.lastProfile,
    microBatches: [shape[0]!],
  };
  if (options.keepOnGpu) {
    result.gpu = {
      lastHiddenState: outputTensor(compiled, 'last_hidden_state'),
      poolerOutput: outputTensor(compiled, 'pooler_output'),
      hiddenStates: hiddenNames.length ? hiddenNames.map((n) => outputTensor(compiled, n)) : undefined,
      release: lease.hold(),
    };
  }
  return result;
}

/** Frees every plan and every weight buffer. */
export function disposeEncoder(model: InternVitEncoder): void {
  if (model.disposed) return;
  model.disposed = true;
  model.plans.clear();
  for (const t of model.weights.values()) disposeTensor(model.gpu, t);
  model.weights.clear();
}
