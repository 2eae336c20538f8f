// Soak suite: many consecutive forwards of mixed shapes through the public API (InternViT.load →
// embed), to show that memory stays flat over time and that nothing goes wrong quietly:
//   - shapes cycle through image sizes × preprocessing modes × hidden-state selections; with
//     --soak-new-every N, every N-th forward is an image size never seen before (a new preprocessing
//     plan and pipelines: what a service fed arbitrary photos does);
//   - quick mode uses small plan-cache budgets, so plans are evicted and compiled again all along;
//   - host memory (the runner's callback: RSS and JS heap in Node) and live GPU bytes are sampled
//     after one warm-up pass over every shape, every few forwards, and at the end;
//   - every output is compared bit for bit with the warm-up output of its shape: a stale or wrong
//     result counts as an error, like a rejected call. The first error is the record's `error`.
// Browser-safe (no node: imports); the Node runner wires it to `--suites soak`.
import { InternViT, type EmbedOptions } from '../../src/api.js';
import type { Gpu } from '../../src/runtime/device.js';
import type { CheckpointStore } from '../../src/runtime/loader.js';
import type { DecodedImage } from '../../src/model/image.js';
import { describeAdapter } from './adapter.js';
import { median, now, percentile } from './stats.js';
import type { BenchOptions, BenchRecord, Runner, SoakSample } from './types.js';
import { rng } from '../../src/runtime/rng.js';

export interface SoakContext {
  gpu: Gpu;
  opts: BenchOptions;
  runner: Runner;
  /** The checkpoint (a folder in Node) and its name in the record. */
  source: string | CheckpointStore;
  label: string;
  /** Host memory in bytes: RSS and JS heap in use (0 where the runner cannot tell). */
  hostMemory: () => { rss: number; heap: number };
  onRecord: (r: BenchRecord) => void | Promise<void>;
  log?: (line: string) => void;
}

interface SoakCase { name: string; image: DecodedImage; opts: EmbedOptions }

/** Budgets: quick mode keeps a fraction of the plans (eviction all along); full mode the defaults. */
const QUICK_BUDGETS = { planCacheBytes: 256 * 2 ** 10, preprocessCacheBytes: 256 * 2 ** 10 };
const STOP_AFTER_ERRORS = 20;

/** Deterministic noise image, different per size (the package's seeded rng). */
function noiseImage(width: number, height: number): DecodedImage {
  const r = rng(width * 7919 + height * 104729);
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * 256);
  return { data, width, height, name: `noise ${width}×${height}` };
}

/** 24 shapes: 12 image sizes, three preprocessings (two tile sizes, InternVL tiling), two hidden-state sets. */
function soakCases(opts: BenchOptions): SoakCase[] {
  const quick = opts.mode === 'quick';
  const S = quick ? 28 : 224;
  const modes: EmbedOptions[] = [
    { preprocess: 'none', size: S },
    { preprocess: 'none', size: S + S / 2 },
    { preprocess: 'internvl', size: S, maxTiles: quick ? 2 : 4 },
  ];
  const hidden: EmbedOptions['hiddenStates'][] = [undefined, [1]];
  return Array.from({ length: 24 }, (_, i) => {
    const w = Math.round(S * (0.8 + ((i * 5) % 12) * 0.25));
    const h = Math.round(S * (0.8 + ((i * 7) % 11) * 0.2));
    const mode = modes[i % modes.length]!;
    const embed: EmbedOptions = { ...mode, hiddenStates: hidden[Math.floor(i / modes.length) % hidden.length] };
    return { name: `${w}×${h} ${mode.preprocess} S=${mode.size}${embed.hiddenStates ? ' +hidden' : ''}`, image: noiseImage(w, h), opts: embed };
  });
}

/** The n-th never-seen image size, squashed like the first case (same encoder shape as it). */
function freshCase(cases: SoakCase[], n: number): SoakCase {
  const base = cases[0]!;
  const w = Math.round(base.image.width * 0.5) + n;
  const h = Math.round(base.image.height * 0.5) + ((n * 13) % 97);
  return { name: `${w}×${h} (new size) ${base.opts.preprocess} S=${base.opts.size}`, image: noiseImage(w, h), opts: base.opts };
}

function sample(ctx: SoakContext, forward: number): SoakSample {
  const { rss, heap } = ctx.hostMemory();
  return { forward, rss, heap, gpu_live: ctx.gpu.counters.bytesLive };
}

const sameBits = (a: Float32Array, b: Float32Array) => {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
};

const errText = (e: unknown) => (e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e));

export async function runSoakSuite(ctx: SoakContext): Promise<BenchRecord> {
  const { gpu, opts, runner } = ctx;
  const log = ctx.log ?? (() => {});
  const cases = soakCases(opts);
  const budgets: { planCacheBytes?: number; preprocessCacheBytes?: number } = opts.mode === 'quick' ? QUICK_BUDGETS : {};
  const record: BenchRecord = {
    suite: 'soak', name: `${ctx.label} soak${opts.soakNewEvery ? `, a new image size every ${opts.soakNewEvery}` : ''}`, shape: `${cases.length} shapes cycled (${cases.slice(0, 3).map((c) => c.name).join('; ')}; …)`,
    runtime: 'internvit-webgpu', runner, mode: opts.mode, ...describeAdapter(gpu), dtype: 'f32',
    median_ms: null, p90_ms: null, gflops: null,
    timing: 'wall clock per embed() of the cycled shapes (new sizes, which compile, excluded): RGBA pixels in, preprocessing + encoder, outputs read back',
    runs: 0, date: new Date().toISOString(),
  };
  const before = gpu.counters.bytesLive;
  let model: InternViT;
  try {
    model = await InternViT.load(ctx.source, { gpu, ...budgets });
  } catch (e) {
    record.error = `could not load the model: ${errText(e)}`;
    await ctx.onRecord(record);
    return record;
  }
  let errors = 0;
  let firstError: string | undefined;
  const fail = (forward: number, c: SoakCase, what: string) => {
    errors++;
    firstError ??= `forward ${forward} (${c.name}): ${what}`;
  };
  try {
    const m0 = model.memory();
    record.weight_bytes = m0.weightBytes;
    // Warm-up: every shape once (compiles its plans); its outputs are what every later run must equal.
    log(`soak: warm-up over ${cases.length} shapes`);
    const want: Float32Array[] = [];
    for (const c of cases) want.push((await model.embed(c.image, c.opts)).lastHiddenState.data);
    const start = sample(ctx, 0);
    const buffers0 = gpu.counters.buffersCreated;
    const every = Math.max(1, Math.floor(opts.soakForwards / 20));
    const samples: SoakSample[] = [start];
    const times: number[] = [];
    let peak = start.gpu_live;
    let done = 0;
    let fresh = 0;
    for (let f = 0; f < opts.soakForwards && errors < STOP_AFTER_ERRORS; f++) {
      const i = f % cases.length;
      const n = opts.soakNewEvery;
      const c = n > 0 && f % n === n - 1 ? freshCase(cases, Math.floor(f / n)) : cases[i]!;
      const t = now();
      try {
        const out = await model.embed(c.image, c.opts);
        // Fresh sizes compile a plan: timed apart from the steady state, and they have no earlier run to equal.
        if (c === cases[i]) {
          times.push(now() - t);
          if (!sameBits(out.lastHiddenState.data, want[i]!)) fail(f, c, 'last_hidden_state differs from the warm-up run of this shape');
        } else {
          fresh++;
          if (out.lastHiddenState.data.length !== want[0]!.length || out.lastHiddenState.data.some((v) => !Number.isFinite(v))) fail(f, c, 'wrong size or non-finite output');
        }
      } catch (e) {
        fail(f, c, errText(e));
      }
      done = f + 1;
      peak = Math.max(peak, gpu.counters.bytesLive);
      if (done % every === 0) {
        samples.push(sample(ctx, done));
        log(`soak: ${done} forwards, ${errors} errors, GPU live ${gpu.counters.bytesLive} B, RSS ${(samples.at(-1)!.rss / 2 ** 20).toFixed(1)} MiB`);
      }
    }
    const end = samples.at(-1)!.forward === done ? samples.at(-1)! : sample(ctx, done);
    if (end !== samples.at(-1)) samples.push(end);
    const m = model.memory();
    Object.assign(record, {
      median_ms: times.length ? median(times) : null, p90_ms: times.length ? percentile(times, 90) : null, runs: done,
      peak_gpu_bytes: peak - before,
      soak: {
        forwards: done, shapes: cases.length, fresh_sizes: fresh, errors, start, end, samples, gpu_peak: peak, weight_bytes: m.weightBytes,
        plan_cache_bytes: budgets.planCacheBytes ?? null, preprocess_cache_bytes: budgets.preprocessCacheBytes ?? null,
        buffers_created: gpu.counters.buffersCreated - buffers0,
      },
      note: `plan caches at the end: ${m.plans} encoder plans (${m.planBytes} B), ${m.preprocessPlans} preprocessing plans (${m.preprocessBytes} B); ` +
        `budgets ${budgets.planCacheBytes ?? 'default'} / ${budgets.preprocessCacheBytes ?? 'default'} B`,
    });
    if (firstError) record.error = `${errors} of ${done} forwards failed${errors >= STOP_AFTER_ERRORS ? ' (stopped early)' : ''}; first: ${firstError}`;
  } catch (e) {
    record.error = `soak stopped: ${errText(e)}`;
  } finally {
    model.dispose();
  }
  const leaked = gpu.counters.bytesLive - before;
  if (leaked !== 0 && !record.error) record.error = `dispose() left ${leaked} bytes of GPU buffers alive`;
  await ctx.onRecord(record);
  return record;
}
