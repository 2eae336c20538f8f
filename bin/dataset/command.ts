// `internvit embed-dataset`: folders, path lists or webdataset tar shards → one embedding per image,
// in clip-retrieval's layout (img_emb/*.npy + metadata/*.parquet), sharded and resumable.
//
// Stages, each bounded: list + plan parts (sources.ts) → decode + preprocess in a worker pool
// (pool.ts, decode.ts; at most --prefetch images in flight) → batches of --batch tiles → the GPU
// (one embedPixels per batch) → pooled vectors → part files written atomically (parts.ts) → the run's
// manifest (embed-dataset.json, checked on every rerun) and a per-shard summary.
import { availableParallelism } from 'node:os';
import { access, constants, readFile, rename, stat, writeFile, mkdir, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createTensor, describeGpu, disposeTensor, InternViT, type DecodeOptions, type Gpu, type PreprocessOptions, type Tensor } from '../../src/internal.js';
import {
  CliError, formatMs, intFlag, listFlag, now, parseFlags, requireFlag, stringFlag, usageError, WEIGHTS_USAGE, weightsFlag, withGpu, limitsFlag, LIMITS_USAGE, precisionFlag, PRECISION_USAGE, type Io,
} from '../cli.js';
import { checkpointLine, IMAGE_FLAGS, imageOptions, inspectModel, modelImageSize, packageVersion } from '../inputs.js';
import { partName, isPartComplete, makeOutputDirs, removeStaleTemps, writePart, type EmbeddingDType, type MetadataRow, type PartOutput } from './parts.js';
import { addTileVector, finishVector, POOLS, type Pool } from './pooling.js';
import { createDecodePool, findWorkerFile, type DecodePool } from './pool.js';
import { createProgress, formatDuration, type ProgressState } from './progress.js';
import { ownsPart, resolveShard, type Shard } from './shard.js';
import { planDataset, type DatasetPlan, type Part } from './sources.js';
import { readTarSamples } from './tar.js';
import type { DecodeReply } from './decode-job.js';
import { chooseJpegDecoder, type JpegDecoder } from './decode.js';

export const EMBED_DATASET_USAGE = `embed-dataset --model M --input SRC [--input SRC …] --output DIR [options]
    embeds every image of a dataset; writes DIR/img_emb/img_emb_<part>.npy (rows × D),
    DIR/metadata/metadata_<part>.parquet (one row per embedding) and DIR/errors/errors_<part>.jsonl
    --input SRC       a folder (recursive), a webdataset .tar shard (brace ranges: 'data/{00000..00099}.tar'),
                      an image, or a text file of image paths; repeatable
    --output DIR      the output folder (created; a rerun skips the parts already complete)
    --mode M          clip (short side + center crop: one tile, default), none (squash), internvl (tiles,
                      averaged per image)   --size S  tile side (default: the model's)
                      --max-tiles N, --min-tiles N, --no-thumbnail: as for embed, with --mode internvl
    --max-image-pixels N  refuse larger images from their header (default 178956970, Pillow's limit)
    --pool P          cls (the CLS token, default) or mean (mean of the patch tokens)
    --normalize       scale each embedding to unit L2 norm (for inner-product search)
    --dtype T         stored embeddings: f16 (default) or f32
    --batch B         tiles per GPU forward (default 16)
    --part-size N     images per part for folders and lists (default 10000; a tar shard is one part)
    --shard i/n       process parts p with p mod n = i; auto: from JOB_COMPLETION_INDEX (with --shards n)
                      or SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT
    --max-errors N    stop (exit 1) once more than N images failed (default: no limit; failures are
                      listed in DIR/errors/ and skipped)
    --workers N       decode threads (default: CPU cores − 1, at most 8)
    --prefetch N      decoded images held ahead of the GPU (default: 2·batch + 2·workers)
    --progress-interval S  seconds between progress lines when stderr is not a terminal (default 30)
${PRECISION_USAGE}
${WEIGHTS_USAGE}
${LIMITS_USAGE}`;

export const FLAGS = {
  model: { type: 'string' }, input: { type: 'string', multiple: true }, output: { type: 'string' }, ...IMAGE_FLAGS,
  pool: { type: 'string' }, normalize: { type: 'boolean' }, dtype: { type: 'string' }, batch: { type: 'string' },
  'part-size': { type: 'string' }, shard: { type: 'string' }, shards: { type: 'string' }, 'max-errors': { type: 'string' },
  workers: { type: 'string' }, prefetch: { type: 'string' }, 'progress-interval': { type: 'string' },
  precision: { type: 'string' }, weights: { type: 'string' }, limits: { type: 'string' },
} as const;

/** What decides the numbers in the outputs: a rerun into the same folder must match it exactly. */
interface RunSpec {
  tool: string;
  model: string;
  mode: string;
  size: number;
  tiles: { min: number; max: number; thumbnail: boolean } | null;
  pool: Pool;
  normalize: boolean;
  dtype: EmbeddingDType;
  weights: string;
  precision: string;
  partSize: number;
  parts: number;
  inputs: { files: number; tars: number; sha256: string };
}

const MANIFEST = 'embed-dataset.json';

/** Writes the run's manifest, or checks it against the one already there (a rerun, another shard). */
async function claimOutput(dir: string, spec: RunSpec): Promise<'new' | 'resumed'> {
  const path = join(dir, MANIFEST);
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) {
    const tmp = `${path}.tmp-${process.pid}`;
    await writeFile(tmp, `${JSON.stringify(spec, null, 2)}\n`);
    await rename(tmp, path);
    return 'new';
  }
  let old: Record<string, unknown>;
  try {
    old = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CliError(`${path} is not valid JSON; this folder was not written by embed-dataset (or the file was damaged); use another --output`);
  }
  const differ = Object.keys(spec).filter((k) => k !== 'tool' && JSON.stringify(old[k]) !== JSON.stringify(spec[k as keyof RunSpec]));
  if (differ.length) {
    const show = (v: unknown) => JSON.stringify(v);
    throw new CliError(`--output ${dir} holds a run with other settings (${differ.map((k) => `${k}: ${show(old[k])} there, ${show(spec[k as keyof RunSpec])} now`).join('; ')}); rerun with the same inputs and options, or use another --output`);
  }
  return 'resumed';
}

async function checkWritable(dir: string): Promise<void> {
  const s = await stat(dir).catch(() => null);
  if (s && !s.isDirectory()) throw new CliError(`--output ${dir} is a file; give a folder`);
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
    const probe = join(dir, `.write-test-${process.pid}`);
    await writeFile(probe, '');
    await unlink(probe);
  } catch (e) {
    throw new CliError(`--output ${dir}: cannot write there (${(e as Error).message.replace(/^\w+: /, '')})`);
  }
}

export interface DatasetTimings {
  /** Worker time spent decoding and preprocessing (summed over threads). */
  decodeMs: number;
  /** Main-thread time spent waiting for the next decoded image (the GPU starved). */
  waitMs: number;
  /** Host → GPU copies of the batches. */
  uploadMs: number;
  /** The forward passes, submit to readback. */
  gpuMs: number;
  /** Part files. */
  writeMs: number;
  totalMs: number;
}

export interface DatasetSummary {
  images: number;
  errors: number;
  parts: number;
  partsSkipped: number;
  batches: number;
  timings: DatasetTimings;
}

interface Settings {
  spec: RunSpec;
  output: string;
  plan: DatasetPlan;
  shard: Shard;
  todo: Part[];
  preprocess: PreprocessOptions & DecodeOptions & { mode: NonNullable<PreprocessOptions['mode']>; size: number };
  batch: number;
  workers: number;
  prefetch: number;
  maxErrors: number;
  progressIntervalMs: number;
}

export async function embedDataset(args: string[], io: Io): Promise<number> {
  const values = parseFlags('embed-dataset', args, FLAGS);
  if (!values) {
    io.out(`usage: internvit ${EMBED_DATASET_USAGE}`);
    return 0;
  }
  const modelSpec = requireFlag('embed-dataset', values, 'model', '<folder|url|org/name>');
  const inputs = listFlag(values, 'input');
  if (inputs.length === 0) throw usageError('embed-dataset: --input <folder|file.tar|list.txt|image> is required (see "internvit embed-dataset --help")');
  const output = resolve(requireFlag('embed-dataset', values, 'output', '<folder>'));
  const pool = (stringFlag(values, 'pool') ?? 'cls') as Pool;
  if (!POOLS.includes(pool)) throw usageError(`--pool must be one of ${POOLS.join(', ')} (got '${pool}')`);
  const dtype = (stringFlag(values, 'dtype') ?? 'f16') as EmbeddingDType;
  if (dtype !== 'f16' && dtype !== 'f32') throw usageError(`--dtype must be f16 or f32 (got '${dtype}')`);
  const precision = precisionFlag(values) ?? 'f32';
  const weights = weightsFlag(values);
  const limits = limitsFlag(values);
  const batch = intFlag(values, 'batch') ?? 16;
  const partSize = intFlag(values, 'part-size') ?? 10_000;
  const maxErrors = intFlag(values, 'max-errors', 0) ?? Infinity;
  const workers = intFlag(values, 'workers', 0) ?? Math.max(1, Math.min(8, availableParallelism() - 1));
  const prefetch = intFlag(values, 'prefetch') ?? 2 * batch + 2 * workers;
  const progressIntervalMs = (intFlag(values, 'progress-interval', 0) ?? 30) * 1000;
  const shard = resolveShard(stringFlag(values, 'shard'), stringFlag(values, 'shards'), process.env);
  values.mode ??= 'clip';

  // Everything that can be wrong is found before the GPU starts: output, model, inputs, manifest.
  await checkWritable(output);
  const model = await inspectModel(modelSpec);
  const opts = imageOptions(values, modelImageSize(model.config));
  const preprocess = { mode: opts.preprocess, size: opts.size, minTiles: opts.minTiles, maxTiles: opts.maxTiles, thumbnail: opts.thumbnail, maxImagePixels: opts.maxImagePixels };
  const plan = await planDataset(inputs, partSize);
  const spec: RunSpec = {
    tool: `internvit-webgpu ${packageVersion()} embed-dataset`,
    model: model.location, mode: opts.preprocess, size: opts.size,
    tiles: opts.preprocess === 'internvl' ? { min: opts.minTiles ?? 1, max: opts.maxTiles ?? 12, thumbnail: opts.thumbnail ?? true } : null,
    pool, normalize: values.normalize === true, dtype, weights: weights ?? 'auto', precision, partSize,
    parts: plan.parts.length, inputs: { files: plan.files, tars: plan.tars, sha256: plan.inputHash },
  };
  await makeOutputDirs(output);
  const resumed = (await claimOutput(output, spec)) === 'resumed';
  const mine = plan.parts.filter((p) => ownsPart(shard, p.index));
  const names = new Set(mine.map((p) => partName(p.index, plan.parts.length)));
  const stale = await removeStaleTemps(output, names);
  const todo = mine.filter((p) => !isPartComplete(output, partName(p.index, plan.parts.length)));

  io.err(`inputs: ${plan.files} image files and ${plan.tars} tar shards → ${plan.parts.length} parts; shard ${shard.index}/${shard.count} (${shard.source}): ${mine.length} parts, ${mine.length - todo.length} already complete${resumed ? ' (resuming)' : ''}${stale ? `, ${stale} unfinished temporary files removed` : ''}`);
  if (todo.length === 0) {
    io.err(`nothing to do: every part of this shard is in ${output}`);
    return 0;
  }
  const settings: Settings = { spec, output, plan, shard, todo, preprocess, batch, workers, prefetch, maxErrors, progressIntervalMs };
  return withGpu(io, async (gpu) => {
    io.err(describeGpu(gpu));
    io.err(checkpointLine(model.location, model.checkpoint));
    const t = now();
    const vit = await InternViT.load(modelSpec, { gpu, weightStorage: weights, precision });
    io.err(`load: ${formatMs(now() - t)}`);
    try {
      const summary = await runDataset(vit, gpu, settings, io);
      io.err(summaryText(summary, settings));
      return 0;
    } finally {
      vit.dispose();
    }
  }, limits);
}

function summaryText(s: DatasetSummary, settings: Settings): string {
  const t = s.timings;
  const pct = (ms: number) => `${((100 * ms) / Math.max(t.totalMs, 1e-9)).toFixed(0)}%`;
  return [
    `done: ${s.images} images embedded, ${s.errors} errors, ${s.parts} parts written to ${settings.output} in ${formatDuration(t.totalMs)} ` +
      `(${((s.images * 1000) / Math.max(t.totalMs, 1e-9)).toFixed(2)} images/s)`,
    `time: GPU forward ${formatMs(t.gpuMs)} (${pct(t.gpuMs)}), upload ${formatMs(t.uploadMs)} (${pct(t.uploadMs)}), waiting for decode ${formatMs(t.waitMs)} (${pct(t.waitMs)}), ` +
      `writing ${formatMs(t.writeMs)} (${pct(t.writeMs)}); decode work ${formatMs(t.decodeMs)} over ${settings.workers || 'no'} worker thread${settings.workers === 1 ? '' : 's'}`,
  ].join('\n');
}

// ------------------------------------------------------------------------------ the pipeline

/** One input of a part, in order: an image to decode, or a failure known before decoding. */
interface Item {
  part: Part;
  id: string;
  decoded: Promise<DecodeReply> | null;
  error?: string;
  json?: Record<string, unknown>;
  caption?: string;
}

/** Every input of the parts to do, in order, decoding ahead through the pool (bounded by the caller). */
async function* items(parts: Part[], pool: DecodePool, prep: PreprocessOptions & DecodeOptions, jpeg: JpegDecoder): AsyncGenerator<Item> {
  for (const part of parts) {
    if (part.kind === 'files') {
      for (const path of part.paths) yield { part, id: path, decoded: pool.decode({ path, name: path, opts: prep, jpeg }) };
      continue;
    }
    try {
      for await (const s of readTarSamples(part.tar)) {
        if ('error' in s.image) yield { part, id: s.key, decoded: null, error: s.image.error, json: s.json, caption: s.caption };
        else yield { part, id: s.key, decoded: pool.decode({ bytes: s.image.bytes, name: `${part.tar}:${s.image.member}`, opts: prep, jpeg }), json: s.json, caption: s.caption };
      }
    } catch (e) {
      // The samples before the damage are embedded; the damage itself is one error row of the part.
      yield { part, id: part.tar, decoded: null, error: (e as Error).message };
    }
  }
}

/** At most `n` items ahead of the consumer. */
async function* ahead<T>(source: AsyncGenerator<T>, n: number): AsyncGenerator<T> {
  const window: Promise<IteratorResult<T>>[] = [];
  for (;;) {
    while (window.length < n) window.push(source.next());
    const r = await window.shift()!;
    if (r.done) return;
    yield r.value;
  }
}

/** An image whose tiles are on their way through the batches. */
interface Pending {
  row: MetadataRow;
  acc: Float64Array;
  tilesLeft: number;
}

interface PartState {
  part: Part;
  rows: MetadataRow[];
  vectors: Float32Array[];
  errors: { input: string; error: string }[];
}

export async function runDataset(vit: InternViT, gpu: Gpu, s: Settings, io: Io): Promise<DatasetSummary> {
  const start = now();
  const D = vit.config.vision.hiddenSize;
  const S = s.preprocess.size;
  const tileFloats = 3 * S * S;
  const B = s.batch;
  const pool = createDecodePool(s.workers, s.workers > 0 ? findWorkerFile() : null);
  if (s.workers > 0 && pool.threads === 0) io.err('decoding in the main thread: no dataset-worker.js next to this build (running from sources)');
  const jpeg = await chooseJpegDecoder();
  io.err(`decoders: ${jpeg.note}; ${pool.threads || 'no'} worker threads`);
  const timings: DatasetTimings = { decodeMs: 0, waitMs: 0, uploadMs: 0, gpuMs: 0, writeMs: 0, totalMs: 0 };
  const summary: DatasetSummary = { images: 0, errors: 0, parts: 0, partsSkipped: 0, batches: 0, timings };
  const imagesTotal = s.todo.some((p) => p.kind === 'tar') ? null : s.todo.reduce((a, p) => a + (p.kind === 'files' ? p.paths.length : 0), 0);
  const state = (): ProgressState => ({ images: summary.images, errors: summary.errors, partsDone: summary.parts, imagesTotal, partsTotal: s.todo.length });
  // process.stderr, not fd 2: the executable runs commands in a child whose fd 2 only collects driver noise.
  const progress = createProgress({ tty: process.stderr.isTTY === true && !io.gpu, intervalMs: s.progressIntervalMs, write: (l) => io.err(l) });

  const input: Tensor = createTensor(gpu, [B, 3, S, S], 'f32', 'embed-dataset batch');
  const host = new Float32Array(B * tileFloats);
  const owners: Pending[] = []; // owner image of each tile in the batch
  let current = null as PartState | null;

  const runBatch = async () => {
    const used = owners.length;
    if (used === 0) return;
    host.fill(0, used * tileFloats); // padding tiles: a fixed batch shape means one compiled plan
    let t = now();
    gpu.device.queue.writeBuffer(input.buffer, 0, host);
    timings.uploadMs += now() - t;
    t = now();
    const out = await vit.embedPixels(input, [B, 3, S, S]);
    timings.gpuMs += now() - t;
    summary.batches++;
    for (let i = 0; i < used; i++) {
      const p = owners[i]!;
      addTileVector(p.acc, s.spec.pool, out, i);
      if (--p.tilesLeft === 0) {
        const v = new Float32Array(D);
        finishVector(p.acc, p.row.tiles, s.spec.normalize, v, 0);
        current!.rows.push(p.row);
        current!.vectors.push(v);
        summary.images++;
      }
    }
    owners.length = 0;
  };

  const finishPart = async (ps: PartState) => {
    await runBatch();
    const t = now();
    const name = partName(ps.part.index, s.plan.parts.length);
    const vectors = new Float32Array(ps.rows.length * D);
    ps.vectors.forEach((v, i) => vectors.set(v, i * D));
    const part: PartOutput = {
      index: ps.part.index, kind: ps.part.kind, tar: ps.part.kind === 'tar' ? ps.part.tar : undefined,
      rows: ps.rows, vectors, dim: D, errors: ps.errors,
    };
    try {
      await writePart(s.output, name, part, s.spec.dtype);
    } catch (e) {
      const msg = (e as Error).message;
      if (/does not fit f16/.test(msg)) throw new CliError(`part ${name}: ${msg.replace(/; keep this tensor.*/, '')}; use --dtype f32 (or --normalize)`);
      throw new CliError(`part ${name}: cannot write to ${s.output}: ${msg}`);
    }
    timings.writeMs += now() - t;
    summary.parts++;
    progress.log(`part ${name} written: ${ps.rows.length} embeddings, ${ps.errors.length} errors`);
    progress.update(state());
  };

  const fail = (ps: PartState, input: string, error: string) => {
    ps.errors.push({ input, error });
    summary.errors++;
    if (summary.errors > s.maxErrors) {
      throw new CliError(`more than --max-errors ${s.maxErrors} images failed (last: ${error}); completed parts are kept, failures are listed in ${join(s.output, 'errors')}`);
    }
  };

  try {
    for await (const item of ahead(items(s.todo, pool, s.preprocess, jpeg.decoder), s.prefetch)) {
      if (current?.part !== item.part) {
        if (current) await finishPart(current);
        current = { part: item.part, rows: [], vectors: [], errors: [] };
      }
      if (!item.decoded) {
        fail(current, item.id, item.error!);
        continue;
      }
      const t = now();
      const r = await item.decoded;
      timings.waitMs += now() - t;
      timings.decodeMs += r.ms;
      if (!r.ok) {
        fail(current, item.id, r.error);
        continue;
      }
      const row: MetadataRow = { id: item.id, width: r.width, height: r.height, tiles: r.tiles };
      if (item.json) row.json = item.json;
      if (item.caption !== undefined) row.caption = item.caption;
      const pending: Pending = { row, acc: new Float64Array(D), tilesLeft: r.tiles };
      for (let k = 0; k < r.tiles; k++) {
        host.set(r.pixels.subarray(k * tileFloats, (k + 1) * tileFloats), owners.length * tileFloats);
        owners.push(pending);
        if (owners.length === B) await runBatch();
      }
      progress.update(state());
    }
    if (current) await finishPart(current);
    // Parts with no inputs at all (an empty tar) are still written, so that they count as done.
    for (const part of s.todo) {
      if (!isPartComplete(s.output, partName(part.index, s.plan.parts.length))) await finishPart({ part, rows: [], vectors: [], errors: [] });
    }
  } finally {
    progress.stop();
    await pool.close();
    disposeTensor(gpu, input);
  }
  timings.totalMs = now() - start;
  await writeShardSummary(s, summary);
  return summary;
}

async function writeShardSummary(s: Settings, summary: DatasetSummary): Promise<void> {
  const dir = join(s.output, 'shards');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `shard_${s.shard.index}_of_${s.shard.count}.json`);
  const body = {
    shard: s.shard, finished: new Date().toISOString(), parts: s.todo.map((p) => partName(p.index, s.plan.parts.length)),
    images: summary.images, errors: summary.errors, batches: summary.batches, batch: s.batch, workers: s.workers,
    imagesPerSecond: (summary.images * 1000) / Math.max(summary.timings.totalMs, 1e-9), timings: summary.timings,
  };
  await writeFile(`${path}.tmp-${process.pid}`, `${JSON.stringify(body, null, 2)}\n`);
  await rename(`${path}.tmp-${process.pid}`, path);
}
