// InternViT's tensors: the names and shapes a config implies, a check of a checkpoint against them
// before anything runs, and a streaming upload (byte range → float32 or 16-bit → GPU, a bounded chunk
// at a time, so host memory stays far below the checkpoint's size).
//
// Weight storage: the linear layers' weights (qkv, proj, fc1, fc2 and the projector's two linears,
// ~99% of the bytes) may stay 16-bit on the GPU; matmul widens them to f32 as it loads them, so the
// arithmetic is f32 either way. 'auto' keeps each such tensor in its checkpoint dtype (BF16 → bf16,
// F16 → f16: bit-exact, half the GPU memory of f32, and uploaded without conversion); F32 tensors
// and every other tensor (norms, biases, embeddings, layer scales) are f32.
import type { Gpu } from '../runtime/device.js';
import { whileAlive } from '../runtime/device.js';
import { captureErrors } from '../runtime/gpu-errors.js';
import { throwIfAborted } from '../runtime/abort.js';
import { isFloatDType, toFloat32, toHalf, type FloatDType, type SafetensorsDType } from '../runtime/dtype.js';
import {
  fileToPacked, scalesPerRow, INT4_GROUP_SIZE, quantBytes, quantizeRows, quantLayout, scalesShape, wordsPerRow, type QuantLayout, type QuantScheme,
} from '../runtime/quant.js';
import { checkpointQuantization, fileTensorsOf, layoutFor, SCALE_SUFFIX, type CheckpointQuant, type QuantizedTensor } from './quantized.js';
import type { Checkpoint, WeightsProgress } from '../runtime/loader.js';
import type { ByteSource, TensorInfo } from '../runtime/safetensors.js';
import { createTensor, disposeTensor, shapeString, writeTensor, type DType, type Tensor } from '../runtime/tensor.js';
import { numPositions, PROJECTOR_KEYS, type InternVitConfig, type InternVlChatConfig, type ModelConfig } from './config.js';

export interface ExpectedTensor {
  name: string;
  shape: number[];
  /** A linear layer's weight (the W of a matmul): may be stored 16-bit, see WeightStorage. */
  linear?: boolean;
  /** The exact file dtype required (pre-quantized checkpoints); otherwise any of F32, F16, BF16. */
  dtype?: SafetensorsDType;
  /** A pre-quantized linear weight: its layout (shape is then the file's packed shape). */
  quant?: QuantLayout;
}

/**
 * How linear-layer weights are kept on the GPU. 'auto' (default): as in the checkpoint (BF16 → bf16,
 * F16 → f16, F32 → f32; exact). 'f32': widened at load (2× the memory, the layout before 16-bit
 * storage existed). 'bf16' / 'f16': converted when the checkpoint differs (round to nearest even;
 * f16 rejects values beyond ±65504). 'int8' / 'int4': quantized (src/model/quantized.ts; int8 one
 * scale per output channel, int4 one per group of input channels), at load from a float checkpoint
 * or as stored in a pre-quantized one ('auto' loads those as they are). Everything else is always f32.
 */
export type WeightStorage = 'auto' | 'f32' | 'bf16' | 'f16' | QuantScheme;

export const WEIGHT_STORAGES: readonly WeightStorage[] = ['auto', 'f32', 'bf16', 'f16', 'int8', 'int4'];

/** How one linear weight sits on the GPU: a float dtype, or quantized. */
export type LinearStorage = 'f32' | 'bf16' | 'f16' | QuantScheme;

/** The GPU dtype of one linear weight stored under `storage`, given its checkpoint dtype. */
export function linearWeightDType(storage: WeightStorage, source: FloatDType): LinearStorage {
  if (!WEIGHT_STORAGES.includes(storage)) throw new Error(`weight storage '${String(storage)}' is not one of ${WEIGHT_STORAGES.join(', ')}`);
  if (storage !== 'auto') return storage;
  return source === 'BF16' ? 'bf16' : source === 'F16' ? 'f16' : 'f32';
}

/**
 * Bytes the expected tensors take on the GPU with linear weights in `linear` (everything else f32);
 * int8 / int4 count the packed weights and their f32 scales (int4 with `groupSize`).
 */
export function weightBytes(c: InternVitConfig, linear: LinearStorage, opts: ExpectedOptions & { groupSize?: number } = {}): number {
  return expectedTensors(c, opts).reduce((a, t) => {
    const n = t.shape.reduce((x, y) => x * y, 1);
    if (!t.linear || linear === 'f32') return a + 4 * n;
    if (linear === 'bf16' || linear === 'f16') return a + 2 * n;
    return a + quantBytes(quantLayout(linear, t.shape[0]!, t.shape[1]!, opts.groupSize));
  }, 0);
}

/** The storages the memory table (README, `internvit info`, describe()) lists. */
export const MEMORY_STORAGES: readonly LinearStorage[] = ['f32', 'bf16', 'int8', 'int4'];

/** GPU bytes of the weights under each of MEMORY_STORAGES (int4 at INT4_GROUP_SIZE). */
export function weightBytesByStorage(c: InternVitConfig, opts: ExpectedOptions = {}): { storage: LinearStorage; bytes: number }[] {
  return MEMORY_STORAGES.map((storage) => ({ storage, bytes: weightBytes(c, storage, opts) }));
}

/** "11.12 GB" / "61.3 MB": bytes as the memory table prints them. */
export function formatGpuBytes(b: number): string {
  return b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : `${(b / 1e6).toFixed(1)} MB`;
}

/** "f32 22.2 GB, bf16 11.1 GB, int8 5.6 GB, int4 3.0 GB" */
export function describeStorageBytes(c: InternVitConfig, opts: ExpectedOptions = {}): string {
  return weightBytesByStorage(c, opts).map((r) => `${r.storage} ${formatGpuBytes(r.bytes)}`).join(', ');
}

export interface ExpectedOptions {
  /** Prepended to every vision tensor name ('vision_model.' in chat checkpoints). */
  prefix?: string;
  /** Also list the mlp1 projector (never prefixed). */
  projector?: InternVlChatConfig | null;
}

/** Every tensor the encoder needs, in a fixed order (embeddings, then layer by layer). */
export function expectedTensors(c: InternVitConfig, opts: ExpectedOptions = {}): ExpectedTensor[] {
  const pre = opts.prefix ?? '';
  const D = c.hiddenSize;
  const I = c.intermediateSize;
  const out: ExpectedTensor[] = [];
  const add = (name: string, shape: number[], linear = false) => out.push({ name: pre + name, shape, ...(linear ? { linear } : {}) });
  add('embeddings.class_embedding', [1, 1, D]);
  add('embeddings.patch_embedding.weight', [D, c.numChannels, c.patchSize, c.patchSize]);
  add('embeddings.patch_embedding.bias', [D]);
  add('embeddings.position_embedding', [1, numPositions(c), D]);
  const norm = (name: string) => {
    add(`${name}.weight`, [D]);
    if (c.normType === 'layer_norm') add(`${name}.bias`, [D]);
  };
  for (let i = 0; i < c.numLayers; i++) {
    const l = `encoder.layers.${i}.`;
    norm(`${l}norm1`);
    add(`${l}attn.qkv.weight`, [3 * D, D], true);
    if (c.qkvBias) add(`${l}attn.qkv.bias`, [3 * D]);
    if (c.qkNormalization) {
      add(`${l}attn.q_norm.weight`, [D]);
      add(`${l}attn.k_norm.weight`, [D]);
    }
    add(`${l}attn.proj.weight`, [D, D], true);
    add(`${l}attn.proj.bias`, [D]);
    add(`${l}ls1`, [D]);
    norm(`${l}norm2`);
    add(`${l}mlp.fc1.weight`, [I, D], true);
    add(`${l}mlp.fc1.bias`, [I]);
    add(`${l}mlp.fc2.weight`, [D, I], true);
    add(`${l}mlp.fc2.bias`, [D]);
    add(`${l}ls2`, [D]);
  }
  if (opts.projector) out.push(...projectorTensors(opts.projector));
  return out;
}

/** mlp1: LayerNorm(4D) → Linear(4D→Dl) → GELU → Linear(Dl→Dl); weights (out, in). */
export function projectorTensors(chat: InternVlChatConfig): ExpectedTensor[] {
  const X = chat.projectorInputSize;
  const L = chat.llmHiddenSize;
  const shapes = [[X], [X], [L, X], [L], [L, L], [L]];
  return PROJECTOR_KEYS.map((name, i) => ({ name, shape: shapes[i]!, ...(i === 2 || i === 4 ? { linear: true } : {}) }));
}

export type WeightProblem =
  | { kind: 'missing'; name: string; expected: number[] }
  | { kind: 'misshapen'; name: string; file: string; expected: number[]; got: number[] }
  | { kind: 'dtype'; name: string; file: string; dtype: string; expected?: string }
  | { kind: 'unexpected'; name: string; file: string; shape: number[] };

export class WeightsError extends Error {
  constructor(message: string, readonly problems: WeightProblem[]) {
    super(message);
    this.name = 'WeightsError';
  }
}

export interface ValidateOptions {
  /** Check and load the mlp1 projector too (chat checkpoints). Default false. */
  projector?: boolean;
  /** Tolerate extra vision tensors. Default false: they usually mean a config that does not fit. */
  allowUnexpected?: boolean;
  /** Problems named in the error message (all are on WeightsError.problems). Default 8. */
  maxListed?: number;
  /** The checkpoint is pre-quantized so (its config's quantization_config): linear weights are packed, with scales. */
  quant?: CheckpointQuant | null;
}

export interface ValidatedWeights {
  /** Checkpoint names to load, in expectedTensors() order. */
  names: string[];
  /** The vision prefix of this checkpoint; uploadWeights strips it from the returned names. */
  prefix: string;
  tensors: (ExpectedTensor & { info: TensorInfo })[];
  /** Bytes the upload will read. */
  bytesTotal: number;
}

/** Vision tensors live under the prefix; a standalone checkpoint's every tensor is a vision tensor. */
function isVisionName(name: string, prefix: string): boolean {
  return prefix === '' ? !name.startsWith('mlp1.') && !name.startsWith('language_model.') : name.startsWith(prefix);
}

/**
 * Checks every expected tensor's presence, shape and dtype (F32/F16/BF16) before anything is read or
 * run, and that no extra vision tensors exist. language_model.* is ignored; mlp1.* is checked only
 * with `projector`. One WeightsError lists the first problems by name and file.
 */
export function validateCheckpoint(
  ckpt: Pick<Checkpoint, 'tensors' | 'location'>, config: ModelConfig, opts: ValidateOptions = {},
): ValidatedWeights {
  if (opts.projector && !config.chat) {
    throw new Error(`${ckpt.location}: the mlp1 projector was requested but the config is not an InternVL chat config`);
  }
  const floats = expectedTensors(config.vision, { prefix: config.prefix, projector: opts.projector ? config.chat : null });
  const q = opts.quant;
  const expected: ExpectedTensor[] = !q ? floats : floats.flatMap((e) => {
    if (!e.linear) return [e];
    const l = layoutFor(q, e.shape);
    const [w, scales] = fileTensorsOf(e.name, l);
    return [{ ...w!, linear: true, quant: l }, scales!];
  });
  const problems: WeightProblem[] = [];
  const tensors: ValidatedWeights['tensors'] = [];
  let bytesTotal = 0;
  for (const e of expected) {
    const info = ckpt.tensors.get(e.name);
    if (!info) {
      problems.push({ kind: 'missing', name: e.name, expected: e.shape });
      continue;
    }
    if (!sameShape(info.shape, e.shape)) {
      problems.push({ kind: 'misshapen', name: e.name, file: info.file, expected: e.shape, got: info.shape });
    } else if (e.dtype ? info.dtype !== e.dtype : !isFloatDType(info.dtype)) {
      problems.push({ kind: 'dtype', name: e.name, file: info.file, dtype: info.dtype, ...(e.dtype ? { expected: e.dtype } : {}) });
    } else {
      tensors.push({ ...e, info });
      bytesTotal += info.byteLength;
    }
  }
  if (!opts.allowUnexpected) {
    const wanted = new Set(expected.map((e) => e.name));
    for (const [name, info] of ckpt.tensors) {
      if (wanted.has(name)) continue;
      const extra = isVisionName(name, config.prefix) || (opts.projector === true && name.startsWith('mlp1.'));
      if (extra) problems.push({ kind: 'unexpected', name, file: info.file, shape: info.shape });
    }
  }
  if (problems.length > 0) throw new WeightsError(describeProblems(ckpt, config, expected, problems, opts.maxListed ?? 8), problems);
  return { names: tensors.map((t) => t.name), prefix: config.prefix, tensors, bytesTotal };
}

function describeProblems(
  ckpt: Pick<Checkpoint, 'tensors' | 'location'>, config: ModelConfig, expected: ExpectedTensor[],
  problems: WeightProblem[], maxListed: number,
): string {
  const count = (k: WeightProblem['kind']) => problems.filter((p) => p.kind === k).length;
  const summary = (['missing', 'misshapen', 'dtype', 'unexpected'] as const)
    .map((k) => [k, count(k)] as const).filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k === 'dtype' ? 'with an unsupported dtype' : k}`).join(', ');
  const lines = problems.slice(0, maxListed).map((p) => {
    switch (p.kind) {
      case 'missing': return `missing '${p.name}' (expected ${shapeString(p.expected)})`;
      case 'misshapen': return `'${p.name}' in ${p.file} has shape ${shapeString(p.got)}, expected ${shapeString(p.expected)}`;
      case 'dtype': return p.expected
        ? `'${p.name}' in ${p.file} is ${p.dtype}, expected ${p.expected} (the layout its config's quantization_config records)`
        : `'${p.name}' in ${p.file} is ${p.dtype}; only F32, F16 and BF16 are supported`;
      case 'unexpected': return `unexpected '${p.name}' ${shapeString(p.shape)} in ${p.file}`;
    }
  });
  if (problems.length > maxListed) lines.push(`… and ${problems.length - maxListed} more`);
  let hint = '';
  if (count('missing') === expected.length) {
    const bare = expected[0]!.name.slice(config.prefix.length);
    if (config.prefix === '' && ckpt.tensors.has(`vision_model.${bare}`)) {
      hint = "\nThe tensors are prefixed 'vision_model.': this is an InternVL chat checkpoint; use its own config.json.";
    } else if (config.prefix !== '' && ckpt.tensors.has(bare)) {
      hint = "\nThe tensors have no 'vision_model.' prefix: this is a standalone InternViT checkpoint; use its own config.json.";
    }
  }
  return `${ckpt.location}: the weights do not match the config: ${summary}\n  ${lines.join('\n  ')}${hint}`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export interface UploadOptions {
  /** Progress in checkpoint bytes read: starts at 0, never decreases, ends at bytesTotal. */
  onProgress?: (p: WeightsProgress) => void;
  /** Removed from the start of each name in the returned map ('vision_model.'). */
  stripPrefix?: string;
  /** Most bytes read from the checkpoint at once (default 16 MiB); big tensors are uploaded in pieces. */
  chunkBytes?: number;
  /** Wait for the GPU queue after this many bytes written (default 256 MiB), bounding upload staging. */
  drainBytes?: number;
  /** The GPU dtype of each tensor (by checkpoint name): f32 (default), or bf16 / f16 for linear weights. */
  dtypeOf?: (name: string, info: TensorInfo) => 'f32' | 'bf16' | 'f16';
  /** Stops the upload between reads with an AbortError; the tensors made so far are destroyed. */
  signal?: AbortSignal;
  /**
   * Linear weights stored quantized (by checkpoint name): a float tensor is quantized as it streams
   * (its scales become `<name>_scale`); an I8 / U8 tensor of a pre-quantized file is unpacked.
   */
  quantOf?: (name: string) => QuantLayout | undefined;
  /** F32 tensors that are quantization scales (pre-quantized files), by scheme: checked (see checkScales). */
  scaleNames?: ReadonlyMap<string, QuantScheme>;
}

/** A piece of one tensor inside a read (firstRow: quantized tensors, which are read in whole rows). */
interface Piece { name: string; info: TensorInfo; at: number; byteLength: number; firstElement: number; firstRow: number }
interface Segment { source: ByteSource; offset: number; length: number; pieces: Piece[] }


/**
 * Streams tensors to the GPU as float32 (or, per `dtypeOf`, 16-bit): each byte range is read,
 * converted (BF16 → bf16 and F16 → f16 are plain copies) and written with queue.writeBuffer, then
 * dropped. Adjacent small tensors share one read (fewer HTTP requests); big ones are split. Host
 * memory: about three chunks. On any error the tensors made so far are destroyed.
 */
export async function uploadWeights(
  gpu: Gpu, ckpt: Checkpoint, names: readonly string[], opts: UploadOptions = {},
): Promise<Map<string, Tensor>> {
  const chunkBytes = Math.max(16, opts.chunkBytes ?? 16 * 1024 * 1024);
  const onProgress = opts.onProgress ?? (ckpt.onProgress as ((p: WeightsProgress) => void) | undefined);
  const drainBytes = opts.drainBytes ?? 256 * 1024 * 1024;
  const quant = new Map<string, QuantLayout>();
  const infos = [...new Set(names)].map((name) => {
    const info = ckpt.info(name);
    const l = opts.quantOf?.(name);
    if (l) quant.set(name, l);
    const packedFile = l && info.dtype === (l.scheme === 'int8' ? 'I8' : 'U8');
    if (!isFloatDType(info.dtype) && !packedFile) throw new Error(`${info.file}: tensor '${name}': dtype ${info.dtype} is not supported (F32, F16 or BF16)`);
    return info;
  });
  const segments = planReads(ckpt, infos, chunkBytes, quant);
  const bytesTotal = infos.reduce((a, t) => a + t.byteLength, 0);
  const strip = opts.stripPrefix ?? '';
  const key = (name: string) => (strip && name.startsWith(strip) ? name.slice(strip.length) : name);
  const gpuDType = new Map<string, DType>(infos.map((info) => [info.name, opts.dtypeOf?.(info.name, info) ?? 'f32']));
  const make = (info: TensorInfo): Tensor => {
    const l = quant.get(info.name);
    if (!l) return createTensor(gpu, info.shape, gpuDType.get(info.name)!, key(info.name));
    const t: QuantizedTensor = { ...createTensor(gpu, [l.rows, wordsPerRow(l)], 'u32', key(info.name)), quant: l };
    // Quantized at load: the scales are made here too (a pre-quantized file has them as tensors).
    if (isFloatDType(info.dtype)) made.set(info.name + SCALE_SUFFIX, createTensor(gpu, scalesShape(l), 'f32', key(info.name) + SCALE_SUFFIX));
    return t;
  };

  const made = new Map<string, Tensor>();
  const gpuChecks: Promise<void>[] = [];
  const context = `uploading the weights of ${ckpt.location}`;
  let bytesDone = 0;
  let sinceDrain = 0;
  const from = { bytesFromCache: 0, bytesFromNetwork: 0 };
  onProgress?.({ stage: 'weights', bytesDone, bytesTotal, ...from });
  try {
    throwIfAborted(opts.signal);
    const read = (s: Segment) => s.source.read(s.offset, s.length);
    let next: Promise<Uint8Array> | null = segments.length > 0 ? read(segments[0]!) : null;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      const bytes = await next!;
      throwIfAborted(opts.signal);
      if (bytes.byteLength !== seg.length) {
        throw new Error(`${seg.source.name}: read ${bytes.byteLength} of ${seg.length} bytes at ${seg.offset} (file truncated?)`);
      }
      // Read ahead one segment while this one converts and uploads.
      next = i + 1 < segments.length ? read(segments[i + 1]!) : null;
      next?.catch(() => {});
      // Buffer creation and writes inside error scopes: a weight the GPU could not allocate is an
      // error naming it, checked at each drain and at the end, never a silently empty tensor.
      const names = seg.pieces.map((p) => `'${p.name}'`);
      const step = `creating and writing ${names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more tensors` : names.join(', ')}`;
      gpuChecks.push(captureErrors(gpu, { context, step }, () => {
        for (const p of seg.pieces) {
          let t = made.get(p.name);
          if (!t) made.set(p.name, (t = make(p.info)));
          if (p.byteLength === 0) continue;
          const raw = bytes.subarray(p.at, p.at + p.byteLength);
          const what = `${p.info.file}: tensor '${p.name}'`;
          const l = quant.get(p.name);
          if (l) {
            sinceDrain += writeQuantized(gpu, t, made.get(p.name + SCALE_SUFFIX), l, p, raw, what);
            continue;
          }
          // Pieces start at even elements (planReads), so 16-bit writes start on 4-byte offsets.
          const values = t.dtype === 'bf16' || t.dtype === 'f16' ? toHalf(raw, p.info.dtype, t.dtype, what) : toFloat32(raw, p.info.dtype, what);
          const scheme = opts.scaleNames?.get(p.name);
          if (scheme) checkScales(values as Float32Array, p.firstElement, scheme, what);
          writeTensor(gpu, t, values, p.firstElement * (t.dtype === 'f32' ? 4 : 2));
          sinceDrain += values.byteLength;
        }
      }).errors);
      if (sinceDrain >= drainBytes) {
        sinceDrain = 0;
        gpu.device.queue.submit([]);
        gpu.counters.submits++;
        await whileAlive(gpu, Promise.all(gpuChecks));
        await whileAlive(gpu, gpu.device.queue.onSubmittedWorkDone());
      }
      bytesDone += seg.length;
      if (seg.source.origin === 'cache') from.bytesFromCache += seg.length;
      else if (seg.source.origin === 'network') from.bytesFromNetwork += seg.length;
      onProgress?.({ stage: 'weights', bytesDone, bytesTotal, tensor: seg.pieces[seg.pieces.length - 1]!.name, ...from });
    }
    // Zero-element tensors have no bytes, so no segment: make them here.
    for (const info of infos) if (!made.has(info.name)) made.set(info.name, make(info));
    await whileAlive(gpu, Promise.all(gpuChecks));
    throwIfAborted(opts.signal);
  } catch (e) {
    for (const c of gpuChecks) c.catch(() => undefined);
    for (const t of made.values()) disposeTensor(gpu, t);
    throw e;
  }
  const out = new Map<string, Tensor>();
  for (const name of names) {
    out.set(key(name), made.get(name)!);
    const scales = made.get(name + SCALE_SUFFIX);
    if (scales && quant.has(name)) out.set(key(name) + SCALE_SUFFIX, scales);
  }
  return out;
}

/**
 * Writes whole rows of a quantized weight: a float piece is quantized (and its scales written), a
 * packed piece of a pre-quantized file is unpacked into the GPU layout. Returns the bytes written.
 */
function writeQuantized(gpu: Gpu, t: Tensor, scales: Tensor | undefined, l: QuantLayout, p: Piece, raw: Uint8Array, what: string): number {
  const rows = p.byteLength / (p.info.byteLength / l.rows);
  if (isFloatDType(p.info.dtype)) {
    const q = quantizeRows(toFloat32(raw, p.info.dtype, what), rows, l, what);
    writeTensor(gpu, t, q.packed, p.firstRow * wordsPerRow(l) * 4);
    writeTensor(gpu, scales!, q.scales, p.firstRow * scalesPerRow(l) * 4);
    return q.packed.byteLength + q.scales.byteLength;
  }
  const packed = fileToPacked(raw, rows, l, `${what} rows ${p.firstRow}..`);
  writeTensor(gpu, t, packed, p.firstRow * wordsPerRow(l) * 4);
  return packed.byteLength;
}

/**
 * A pre-quantized file's scales are finite and ≥ 0, int4 offsets finite (what the quantizer writes);
 * anything else is a corrupt file. int4 pairs are (scale, offset): even elements are scales.
 */
function checkScales(values: Float32Array, firstElement: number, scheme: QuantScheme, what: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const e = firstElement + i;
    const isScale = scheme === 'int8' || e % 2 === 0;
    if (!(isScale ? v >= 0 && v < Infinity : Number.isFinite(v))) {
      throw new Error(`${what}: ${isScale ? 'scale' : 'offset'} ${e} is ${v}; quantization ${isScale ? 'scales are finite and ≥ 0' : 'offsets are finite'} (corrupt file?)`);
    }
  }
}

/** Orders reads by file and offset; merges contiguous small tensors, splits big ones on element bounds. */
function planReads(ckpt: Checkpoint, infos: TensorInfo[], chunkBytes: number, quant: ReadonlyMap<string, QuantLayout>): Segment[] {
  const items = infos
    .filter((t) => t.byteLength > 0)
    .map((t) => ({ info: t, source: ckpt.sourceOf(t.name) }))
    .sort((a, b) => (a.source.name < b.source.name ? -1 : a.source.name > b.source.name ? 1 : a.info.offset - b.info.offset));
  const segments: Segment[] = [];
  let cur: Segment | null = null;
  for (const { info, source } of items) {
    const size = info.dtype === 'F32' ? 4 : 2;
    const l = quant.get(info.name);
    if (l && info.byteLength > chunkBytes) {
      // Quantized tensors are read in whole rows (a row's scales need all of it).
      const rowBytes = info.byteLength / l.rows;
      const step = Math.max(1, Math.floor(chunkBytes / rowBytes)) * rowBytes;
      for (let at = 0; at < info.byteLength; at += step) {
        const len = Math.min(step, info.byteLength - at);
        segments.push({ source, offset: info.offset + at, length: len, pieces: [{ name: info.name, info, at: 0, byteLength: len, firstElement: 0, firstRow: at / rowBytes }] });
      }
      cur = null;
      continue;
    }
    if (info.byteLength > chunkBytes) {
      // 8-byte steps: whole elements of either size, and an even first element, so a 16-bit
      // destination is written at 4-byte offsets (writeBuffer's rule).
      const step = Math.max(8, Math.floor(chunkBytes / 8) * 8);
      for (let at = 0; at < info.byteLength; at += step) {
        const len = Math.min(step, info.byteLength - at);
        segments.push({ source, offset: info.offset + at, length: len, pieces: [{ name: info.name, info, at: 0, byteLength: len, firstElement: at / size, firstRow: 0 }] });
      }
      cur = null;
      continue;
    }
    if (cur && cur.source.name === source.name && cur.offset + cur.length === info.offset && cur.length + info.byteLength <= chunkBytes) {
      cur.pieces.push({ name: info.name, info, at: cur.length, byteLength: info.byteLength, firstElement: 0, firstRow: 0 });
      cur.length += info.byteLength;
    } else {
      cur = { source, offset: info.offset, length: info.byteLength, pieces: [{ name: info.name, info, at: 0, byteLength: info.byteLength, firstElement: 0, firstRow: 0 }] };
      segments.push(cur);
    }
  }
  return segments;
}

export interface LoadWeightsOptions extends ValidateOptions, UploadOptions {
  /** How linear-layer weights are stored on the GPU (default 'auto': as in the checkpoint). */
  weightStorage?: WeightStorage;
  /** int4 quantized at load: input channels per scale (default INT4_GROUP_SIZE; measurements pick other sizes). */
  groupSize?: number;
}

/** validateCheckpoint + uploadWeights: the encoder's (and optionally the projector's) weights on the GPU, by unprefixed name. */
export async function loadWeights(
  gpu: Gpu, ckpt: Checkpoint, config: ModelConfig, opts: LoadWeightsOptions = {},
): Promise<Map<string, Tensor>> {
  const storage = opts.weightStorage ?? 'auto';
  linearWeightDType(storage, 'F32'); // validates the option before anything is read
  const fileQuant = checkpointQuantization(ckpt.config, ckpt.configFile);
  if (fileQuant && storage !== 'auto' && storage !== fileQuant.scheme) {
    throw new Error(`${ckpt.location}: the checkpoint is pre-quantized ${fileQuant.scheme} (its config's quantization_config); ` +
      `load it with weightStorage '${fileQuant.scheme}' or 'auto', not '${storage}' (re-quantizing would lose more accuracy; use the float checkpoint instead)`);
  }
  const v = validateCheckpoint(ckpt, config, { ...opts, quant: fileQuant });
  const linear = new Map(v.tensors.filter((t) => t.linear).map((t) => [t.name, t] as const));
  const scheme = fileQuant?.scheme ?? (storage === 'int8' || storage === 'int4' ? storage : null);
  const groupSize = opts.groupSize ?? INT4_GROUP_SIZE;
  const quantOf = (name: string) => {
    const t = linear.get(name);
    if (!t || !scheme) return undefined;
    return t.quant ?? quantLayout(scheme, t.shape[0]!, t.shape[1]!, groupSize);
  };
  const scaleNames = new Map(v.tensors.filter((t) => t.name.endsWith(SCALE_SUFFIX) && fileQuant && linear.has(t.name.slice(0, -SCALE_SUFFIX.length))).map((t) => [t.name, fileQuant!.scheme] as const));
  const dtypeOf = opts.dtypeOf ?? ((name: string, info: TensorInfo) => {
    const d = linear.has(name) ? linearWeightDType(storage, info.dtype as FloatDType) : 'f32';
    return d === 'bf16' || d === 'f16' ? d : 'f32';
  });
  return uploadWeights(gpu, ckpt, v.names, { ...opts, dtypeOf, quantOf, scaleNames, stripPrefix: opts.stripPrefix ?? v.prefix });
}

export function disposeWeights(gpu: Gpu, weights: Map<string, Tensor>): void {
  for (const t of weights.values()) disposeTensor(gpu, t);
  weights.clear();
}
