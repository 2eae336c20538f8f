// Model suite: the whole encoder, ours and the ONNX Runtime peer on the same weights and pixels, one
// configuration (model × size × batch) at a time. Browser-safe: files come through the loader's stores
// (a folder in Node, a URL in the browser), the peer through the runner's `ort`.
import type { Gpu } from '../../src/runtime/device.js';
import { openCheckpoint, FileNotFoundError, type Checkpoint, type CheckpointStore } from '../../src/runtime/loader.js';
import { openSafetensors } from '../../src/runtime/safetensors.js';
import { checkpointConfig, type InternVitConfig } from '../../src/model/config.js';
import { gflopsPerImage, presetConfig } from '../../src/model/presets.js';
import { linearWeightDType, loadWeights, type LinearStorage, type WeightStorage } from '../../src/model/weights.js';
import { F16_COSINE_MIN, resolvePrecision, tokenCosine, type Precision } from '../../src/model/precision.js';
import { QUANT_COSINE_MIN } from '../../src/model/quantized.js';
import {
  disposeEncoder, encode, encoderFromWeights, randomEncoder, recordForward, type InternVitEncoder,
} from '../../src/model/internvit.js';
import { describeChoices, openTuning } from '../../src/runtime/tuner.js';
import { VERSION_TABLES } from '../../src/kernels/versions-registry.js';
import { describeAdapter } from './adapter.js';
import { compareArrays, median, now, percentile, randomPixels, timeRuns } from './stats.js';
import type { Agreement, BenchOptions, BenchRecord, OpProfileRow, Runner, Runtime } from './types.js';

/** f32 outputs of two runtimes on the same weights agree to this (max|Δ| / max|reference|). */
export const AGREEMENT_REL = 1e-3;

export interface ModelSpec {
  key: string;
  label: string;
  /** A folder (Node path or URL) with config.json + model.safetensors, optional model[-S].onnx,
   *  pixels[-S].safetensors and expected[-S].safetensors. */
  folder?: string;
  /** Without a folder: this preset with randomEncoder weights (seed 1). */
  preset?: string;
  /** How the folder is named in records (repo-relative path or URL path); default: the folder. */
  display?: string;
}

export interface PeerSession {
  /** last_hidden_state of pixels (B, 3, S, S), on the host. */
  run(pixels: Float32Array, shape: number[]): Promise<Float32Array>;
  release(): Promise<void>;
}

/** ONNX Runtime with its WebGPU execution provider, as the runner imports it. */
export interface Peer {
  runtime: Runtime;
  /** Creates a session on the WebGPU EP; throws with the reason if the EP is not available. */
  create(onnx: Uint8Array): Promise<PeerSession>;
  /** The adapter the peer runs on, when it can tell (else ours is recorded with a note). */
  adapter?(): string | undefined;
  note?: string;
}

interface Loaded {
  spec: ModelSpec;
  config: InternVitConfig;
  encoder: InternVitEncoder;
  store: CheckpointStore | null;
  /** How the linear weights are stored on the GPU in this load. */
  weights: LinearStorage;
  setupMs: number;
  weightBytes: number;
  source: string;
}

/** The model's checkpoint (folder specs), opened once for all its loads, pixels and ONNX files. */
interface Source { spec: ModelSpec; ckpt: Checkpoint | null; config: InternVitConfig }

async function openSource(spec: ModelSpec): Promise<Source> {
  if (!spec.folder) return { spec, ckpt: null, config: presetConfig(spec.preset!).vision };
  const ckpt = await openCheckpoint(spec.folder);
  return { spec, ckpt, config: checkpointConfig(ckpt).vision };
}

/** Where the weights come from, as records name it. */
function sourceName(spec: ModelSpec): string {
  return spec.folder ? spec.display ?? spec.folder : 'randomEncoder seed 1 (no ONNX export for these weights)';
}

/** The GPU dtype `storage` gives this model's linear weights (random weights count as F32). */
function resolvedStorage(src: Source, storage: WeightStorage): LinearStorage {
  const qkv = src.ckpt ? [...src.ckpt.tensors.values()].find((t) => t.name.endsWith('attn.qkv.weight')) : undefined;
  return linearWeightDType(storage, (qkv?.dtype ?? 'F32') as 'F32' | 'F16' | 'BF16');
}

async function loadModel(gpu: Gpu, src: Source, weights: LinearStorage, precision: 'f32' | 'f16'): Promise<Loaded> {
  const { spec } = src;
  const t0 = now();
  const before = gpu.counters.bytesLive;
  if (src.ckpt) {
    const config = checkpointConfig(src.ckpt);
    const map = await loadWeights(gpu, src.ckpt, config, { weightStorage: weights });
    await gpu.device.queue.onSubmittedWorkDone();
    const encoder = encoderFromWeights(gpu, config.vision, map, precision);
    return {
      spec, config: config.vision, encoder, store: src.ckpt.store, weights, setupMs: now() - t0,
      weightBytes: gpu.counters.bytesLive - before, source: sourceName(spec),
    };
  }
  const encoder = randomEncoder(gpu, src.config, 1, { weightStorage: weights, precision });
  await gpu.device.queue.onSubmittedWorkDone();
  return {
    spec, config: src.config, encoder, store: null, weights, setupMs: now() - t0,
    weightBytes: gpu.counters.bytesLive - before, source: sourceName(spec),
  };
}

async function readOptional(store: CheckpointStore | null, file: string): Promise<Uint8Array | null> {
  if (!store) return null;
  const src = store.open(file);
  try {
    const size = await src.size();
    return await src.read(0, size);
  } catch (e) {
    if (e instanceof FileNotFoundError) return null;
    throw e;
  }
}

async function tensorFrom(store: CheckpointStore | null, files: string[], names: string[], where: string): Promise<{ file: string; shape: number[]; data: Float32Array } | null> {
  if (!store) return null;
  for (const file of files) {
    const src = store.open(file);
    try {
      await src.size();
    } catch (e) {
      if (e instanceof FileNotFoundError) continue;
      throw e;
    }
    const st = await openSafetensors(src);
    const name = names.find((n) => st.header.tensors.has(n));
    if (!name) throw new Error(`${src.name}: none of ${names.join(', ')} in it`);
    return { file: `${where}/${file}`, shape: st.info(name).shape, data: await st.readFloat32(name) };
  }
  return null;
}

/** The first `batch` rows of a [n, ...] array, repeating rows when n < batch. */
function takeRows(data: Float32Array, rows: number, batch: number): Float32Array {
  const per = data.length / rows;
  const out = new Float32Array(per * batch);
  for (let b = 0; b < batch; b++) out.set(data.subarray((b % rows) * per, (b % rows + 1) * per), b * per);
  return out;
}

/**
 * How two outputs agree. f32 on both sides: max|Δ| / max|want| ≤ AGREEMENT_REL. With an f16 side the
 * elementwise bound is the wrong yardstick: the f16 contract applies (every token's cosine ≥
 * F16_COSINE_MIN, no non-finite value), with the relative error still reported. int8 / int4 weights
 * likewise get their cosine contract (`min` = QUANT_COSINE_MIN).
 */
function agreement(against: string, got: Float32Array, want: Float32Array, f16 = false, dim = 0, min = F16_COSINE_MIN): Agreement {
  const { maxAbs, maxRef } = compareArrays(got, want);
  const rel = maxAbs / (maxRef || 1);
  if (!f16) return { against, maxAbs, rel, ok: rel <= AGREEMENT_REL };
  const cos = tokenCosine(got, want, dim);
  return { against, maxAbs, rel, cosine: cos.min, ok: cos.nonFinite === 0 && cos.min >= min };
}

function profileRows(ops: { kernel: string; ms: number; flops?: number }[]): OpProfileRow[] {
  const by = new Map<string, OpProfileRow & { f: number }>();
  for (const op of ops) {
    const r = by.get(op.kernel) ?? { kernel: op.kernel, calls: 0, ms: 0, gflops: null, f: 0 };
    r.calls++;
    r.ms += op.ms;
    r.f += op.flops ?? 0;
    by.set(op.kernel, r);
  }
  return [...by.values()].sort((a, b) => b.ms - a.ms)
    .map(({ f, ...r }) => ({ ...r, gflops: f > 0 && r.ms > 0 ? f / r.ms / 1e6 : null }));
}

function freePlans(encoder: InternVitEncoder): void {
  encoder.plans.clear();
}

const errText = (e: unknown) => (e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e));

export interface ModelSuiteContext {
  gpu: Gpu;
  opts: BenchOptions;
  runner: Runner;
  peer: Peer | null;
  /** Why there is no peer (recorded as an error record for every configuration). */
  peerError?: string;
  onRecord: (r: BenchRecord) => void | Promise<void>;
  log?: (line: string) => void;
}

export async function runModelSuite(ctx: ModelSuiteContext, specs: ModelSpec[]): Promise<BenchRecord[]> {
  const { gpu, opts, runner } = ctx;
  const out: BenchRecord[] = [];
  const emit = async (r: BenchRecord) => {
    out.push(r);
    await ctx.onRecord(r);
  };
  const log = ctx.log ?? (() => {});
  for (const spec of specs) {
    let src: Source;
    try {
      src = await openSource(spec);
    } catch (e) {
      await emit(errorRecord(ctx, spec.label, '', 'internvit-webgpu', `could not open the model: ${errText(e)}`));
      continue;
    }
    try {
      // One load per distinct storage ('auto' resolves to the checkpoint's dtype).
      const storages = [...new Set(opts.weights.map((w) => resolvedStorage(src, w)))];
      // Each storage at each distinct precision: 'auto' resolves here and shares the run of what it
      // resolves to (the record lists every option it stands for); 'f16' without shader-f16 is an
      // error record, for ours and for the peer's fp16 run.
      const asked = new Map<'f32' | 'f16', Precision[]>();
      for (const p of opts.precisions) {
        try {
          const r = resolvePrecision(gpu, p);
          asked.set(r, [...(asked.get(r) ?? []), p]);
        } catch (e) {
          await emit({ ...errorRecord(ctx, spec.label, '', 'internvit-webgpu', errText(e)), dtype: 'f16', precision: 'f16', precision_asked: [p] });
        }
      }
      // Without shader-f16 ('f16' failed above, 'auto' fell back to f32) the peer's fp16 rows say why.
      if (opts.peer && !gpu.features.shaderF16 && opts.precisions.some((p) => p !== 'f32')) {
        for (const c of configs(opts)) {
          await emit({ ...errorRecord(ctx, c.name(spec), c.shapeText, ctx.peer?.runtime ?? peerRuntime(runner),
            `fp16 not run: the adapter has no 'shader-f16' (WebGPU's f16 arithmetic), so no runtime computes in f16 on it`), dtype: 'f16' });
        }
      }
      const runs = storages.flatMap((weights) => [...asked.keys()].map((precision) => ({ weights, precision })));
      // Our first output per configuration and precision: what the peer of that precision is compared with.
      const oursOut = new Map<string, Float32Array | null>();
      // Pixels and reference outputs are read once per configuration, for every storage and the peer.
      const inputCache = new Map<string, Promise<Inputs>>();
      const inputs = (c: Config) => {
        if (!inputCache.has(c.key)) inputCache.set(c.key, inputsFor(src.ckpt?.store ?? null, src.config, sourceName(spec), c.size, c.batch));
        return inputCache.get(c.key)!;
      };
      const peerDone = new Set<'f32' | 'f16'>();
      for (const { weights, precision } of runs) {
        let loaded: Loaded;
        try {
          loaded = await loadModel(gpu, src, weights, precision);
        } catch (e) {
          await emit({ ...errorRecord(ctx, spec.label, '', 'internvit-webgpu', `could not load the model (${weights} weights, precision ${precision}): ${errText(e)}`), weights, precision, dtype: precision });
          continue;
        }
        try {
          for (const c of configs(opts)) {
            const { pixels, expected } = await inputs(c);
            log(`model ${spec.label} ${c.size}px B=${c.batch}, ${weights} weights, precision ${precision}`);
            const ours = await measureOurs(ctx, loaded, c.name(spec), c.shapeText, c.shape, pixels, expected, asked.get(precision)!);
            // --tune: the tuned row in place of the heuristic one, which gives it its ratio.
            await emit(opts.tune === 'off' ? ours.record : await measureTuned(ctx, loaded, c.name(spec), c.shapeText, c.shape, pixels, expected, ours.record, asked.get(precision)!));
            const key = `${c.key}|${precision}`;
            if (!oursOut.has(key)) oursOut.set(key, ours.output);
          }
          // The peer of this precision right after our first run of it, so a run cut short by a time
          // limit still has the comparison.
          if (!peerDone.has(precision)) {
            peerDone.add(precision);
            await runPeer(ctx, src, loaded, precision, oursOut, inputs, emit);
          }
        } finally {
          disposeEncoder(loaded.encoder);
        }
      }
    } finally {
      await src.ckpt?.close();
    }
  }
  return out;
}

interface Config { key: string; size: number; batch: number; shape: number[]; shapeText: string; name(spec: ModelSpec): string }

function configs(opts: BenchOptions): Config[] {
  return opts.sizes.flatMap((size) => opts.batches.map((batch) => {
    const shape = [batch, 3, size, size];
    return { key: `${size}|${batch}`, size, batch, shape, shapeText: shape.join('×'), name: (spec: ModelSpec) => `${spec.label} ${size}px B=${batch}` };
  }));
}

interface Inputs { pixels: Float32Array; expected: { file: string; data: Float32Array } | null }

/** Same pixels for every runtime: the folder's pixels file when it has one, else seeded random. */
async function inputsFor(store: CheckpointStore | null, config: InternVitConfig, where: string, size: number, batch: number): Promise<Inputs> {
  const native = size === config.imageSize;
  const px = await tensorFrom(store, [`pixels-${size}.safetensors`, ...(native ? ['pixels.safetensors'] : [])], ['pixel_values'], where);
  const pixels = px ? takeRows(px.data, px.shape[0]!, batch) : randomPixels(batch * 3 * size * size, 7);
  const exp = await tensorFrom(store, [`expected-${size}.safetensors`, ...(native ? ['expected.safetensors'] : [])], ['last_hidden_state'], where);
  return { pixels, expected: exp ? { file: exp.file, data: takeRows(exp.data, exp.shape[0]!, batch) } : null };
}

/**
 * The ONNX Runtime peer on every configuration, compared with our first output of the same precision.
 * f32: the folder's model[-S].onnx; f16: its fp16 export model[-S]-fp16.onnx (float32 input and
 * outputs, everything inside fp16: reference/onnx_fp16.py).
 */
async function runPeer(
  ctx: ModelSuiteContext, src: Source, loaded: Loaded, precision: 'f32' | 'f16', oursOut: Map<string, Float32Array | null>,
  inputs: (c: Config) => Promise<Inputs>, emit: (r: BenchRecord) => Promise<void>,
): Promise<void> {
  const { opts, runner } = ctx;
  if (!opts.peer) return;
  const suffix = precision === 'f16' ? '-fp16' : '';
  for (const c of configs(opts)) {
    const name = c.name(src.spec);
    if (!ctx.peer) {
      await emit({ ...errorRecord(ctx, name, c.shapeText, peerRuntime(runner), ctx.peerError ?? 'no peer'), dtype: precision });
      continue;
    }
    const onnxFiles = [`model-${c.size}${suffix}.onnx`, ...(c.size === src.config.imageSize ? [`model${suffix}.onnx`] : [])];
    let onnx: Uint8Array | null = null;
    let onnxFile = '';
    for (const f of onnxFiles) {
      onnx = await readOptional(loaded.store, f).catch(() => null);
      if (onnx) { onnxFile = f; break; }
    }
    if (!onnx) {
      await emit({ ...errorRecord(ctx, name, c.shapeText, ctx.peer.runtime,
        `no ${precision === 'f16' ? 'fp16 ' : ''}ONNX export of these weights at ${c.size}px (${loaded.source}; looked for ${onnxFiles.join(', ')}). ` +
        `Make one with: python3 reference/export_onnx.py --random ${src.spec.key} --out DIR [--size ${c.size}]${precision === 'f16' ? ' --fp16' : ''}, then --model-dir DIR`), dtype: precision });
      continue;
    }
    logLine(ctx, `peer ${name}${precision === 'f16' ? ' fp16' : ''}`);
    const { pixels, expected } = await inputs(c);
    await emit(await measurePeer(ctx, ctx.peer, loaded, precision, name, c.shapeText, c.shape, pixels, onnx, onnxFile, oursOut.get(`${c.key}|${precision}`) ?? null, expected));
  }
}

const peerRuntime = (runner: Runner): Runtime => (runner === 'browser' ? 'onnxruntime-web' : 'onnxruntime-node');

const logLine = (ctx: ModelSuiteContext, line: string) => ctx.log?.(line);

function errorRecord(ctx: ModelSuiteContext, name: string, shape: string, runtime: Runtime, error: string): BenchRecord {
  return {
    suite: 'model', name, shape, runtime, runner: ctx.runner, mode: ctx.opts.mode, ...describeAdapter(ctx.gpu),
    dtype: 'f32', median_ms: null, p90_ms: null, gflops: null, timing: '', runs: 0, error, date: new Date().toISOString(),
  };
}

async function measureOurs(
  ctx: ModelSuiteContext, m: Loaded, name: string, shapeText: string, shape: number[], pixels: Float32Array,
  expected: { file: string; data: Float32Array } | null, asked: Precision[],
): Promise<{ record: BenchRecord; output: Float32Array | null }> {
  const { gpu, opts } = ctx;
  const f16 = m.encoder.precision === 'f16';
  const base: BenchRecord = {
    ...errorRecord(ctx, name, shapeText, 'internvit-webgpu', ''), weights: m.weights, dtype: m.encoder.precision,
    ...(f16 ? { precision: 'f16' as const } : {}), precision_asked: asked,
  };
  delete base.error;
  const c = gpu.counters;
  try {
    c.peakBytesLive = c.bytesLive;
    const t0 = now();
    // A batch over the device's limits runs as micro-batches (one plan and one submit per pass).
    let result = await encode(m.encoder, pixels, shape);
    const firstMs = now() - t0;
    const passes = result.microBatches;
    const submits0 = c.submits;
    const times = await timeRuns(async () => { result = await encode(m.encoder, pixels, shape); }, opts.runs, Math.max(0, opts.warmup - 1));
    const submits = (c.submits - submits0) / (times.length + Math.max(0, opts.warmup - 1));
    const peak = c.peakBytesLive;
    const output = result.lastHiddenState.data;
    const agreements: Agreement[] = [];
    const quantMin = m.weights === 'int8' || m.weights === 'int4' ? QUANT_COSINE_MIN[m.weights] : null;
    const contract = quantMin === null ? F16_COSINE_MIN : f16 ? Math.min(quantMin, F16_COSINE_MIN) : quantMin;
    if (expected) agreements.push(agreement(`reference ${expected.file}`, output, expected.data, f16 || quantMin !== null, m.config.hiddenSize, contract));

    let profile: OpProfileRow[] | undefined;
    let gpuMs: number | undefined;
    let note = `weights: ${m.source}, linear layers ${m.weights} on the GPU${m.encoder.precision === 'f16' ? ', precision f16 (f16 activations, f32 sums)' : ''}; setup (weights to GPU) ${m.setupMs.toFixed(0)} ms`;
    if (passes.length > 1) note += `; run as ${passes.length} micro-batches (${passes.join(' + ')}) to fit the device's limits`;
    if (gpu.features.timestamps) {
      await encode(m.encoder, pixels, shape, { profile: true });
      const prof = (await encode(m.encoder, pixels, shape, { profile: true })).profile ?? [];
      profile = profileRows(prof);
      gpuMs = prof.reduce((a, op) => a + op.ms, 0);
    } else {
      note += '; no per-op GPU times: the adapter has no timestamp-query';
    }
    const med = median(times);
    const record: BenchRecord = {
      ...base,
      median_ms: med, p90_ms: percentile(times, 90),
      gflops: (gflopsPerImage(m.config, shape[2], shape[3]) * shape[0]!) / med * 1e3,
      timing: 'wall clock per forward (upload + one submit per pass + readback of both outputs)',
      runs: times.length, first_run_ms: firstMs, gpu_ms: gpuMs, profile,
      dispatches: passes.reduce((a, n) => a + recordForward(m.encoder, [n, ...shape.slice(1)], []).ops.filter((o) => o.type === 'dispatch').length, 0),
      submits, peak_gpu_bytes: peak, weight_bytes: m.weightBytes,
      agreement: agreements.length ? agreements : undefined, note,
    };
    return { record, output };
  } catch (e) {
    return { record: { ...base, error: errText(e) }, output: null };
  } finally {
    freePlans(m.encoder);
  }
}

/**
 * The same configuration with kernel versions tuned on this device in this run (opts.tune with no
 * cache, so every op shape is timed; the first run includes the tuning): the "… tuned" row,
 * `tuned_vs_heuristic` = `heuristic` median ÷ tuned median (above 1: tuning helped).
 */
async function measureTuned(
  ctx: ModelSuiteContext, m: Loaded, name: string, shapeText: string, shape: number[], pixels: Float32Array,
  expected: { file: string; data: Float32Array } | null, heuristic: BenchRecord, asked: Precision[],
): Promise<BenchRecord> {
  const tuning = await openTuning(ctx.gpu, VERSION_TABLES, { mode: ctx.opts.tune === 'full' ? 'full' : 'fast', store: null });
  m.encoder.tuning = tuning;
  try {
    const { record } = await measureOurs(ctx, m, `${name} tuned`, shapeText, shape, pixels, expected, asked);
    if (record.error || record.median_ms === null || heuristic.median_ms === null) return record;
    const ratio = heuristic.median_ms / record.median_ms;
    const timing = ctx.gpu.features.timestamps ? 'timestamp queries' : 'wall clock';
    const choices = describeChoices(tuning.used.values(), tuning);
    return {
      ...record, tuned_vs_heuristic: ratio,
      note: `${record.note}; kernel versions tuned in this run (tune '${ctx.opts.tune}', ${timing}; first run includes the tuning): ` +
        `heuristic median ${heuristic.median_ms.toFixed(1)} ms ÷ tuned ${record.median_ms.toFixed(1)} ms = ${ratio.toFixed(2)}; ${choices.join('; ')}`,
    };
  } finally {
    m.encoder.tuning = undefined;
  }
}

async function measurePeer(
  ctx: ModelSuiteContext, peer: Peer, m: Loaded, precision: 'f32' | 'f16', name: string, shapeText: string, shape: number[], pixels: Float32Array,
  onnx: Uint8Array, onnxFile: string, ours: Float32Array | null, expected: { file: string; data: Float32Array } | null,
): Promise<BenchRecord> {
  const base: BenchRecord = { ...errorRecord(ctx, name, shapeText, peer.runtime, ''), dtype: precision };
  delete base.error;
  let session: PeerSession | null = null;
  try {
    const t0 = now();
    session = await peer.create(onnx);
    const setupMs = now() - t0;
    const t1 = now();
    let out = await session.run(pixels, shape);
    const firstMs = now() - t1;
    const times = await timeRuns(async () => { out = await session!.run(pixels, shape); }, ctx.opts.runs, Math.max(0, ctx.opts.warmup - 1));
    const agreements: Agreement[] = [];
    const f16 = precision === 'f16';
    if (ours) agreements.push(agreement(`internvit-webgpu (same run${f16 ? ', precision f16' : ''})`, ours, out, f16, m.config.hiddenSize));
    if (expected) agreements.push(agreement(`reference ${expected.file}`, out, expected.data, f16, m.config.hiddenSize));
    const med = median(times);
    const adapter = peer.adapter?.();
    return {
      ...base,
      ...(adapter ? { adapter } : {}),
      median_ms: med, p90_ms: percentile(times, 90),
      gflops: (gflopsPerImage(m.config, shape[2], shape[3]) * shape[0]!) / med * 1e3,
      timing: 'wall clock per forward (session.run, outputs to the host)',
      runs: times.length, first_run_ms: firstMs,
      agreement: agreements,
      note: `${m.source}/${onnxFile}; session creation (graph + weights to GPU) ${setupMs.toFixed(0)} ms${peer.note ? `; ${peer.note}` : ''}`,
    };
  } catch (e) {
    return { ...base, error: `${peer.runtime} WebGPU EP failed${precision === 'f16' ? ` on ${onnxFile}` : ''}: ${errText(e)}` };
  } finally {
    await session?.release().catch(() => {});
  }
}
