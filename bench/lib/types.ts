import { WEIGHT_STORAGES, type WeightStorage } from '../../src/model/weights.js';
import { PRECISIONS, type Precision } from '../../src/model/precision.js';

// What a benchmark run produces: one record per measurement, the same shape for every runner
// (browser page, Node, the GPU script), so bench/results/latest.json can hold them side by side.

export type Runtime = 'internvit-webgpu' | 'onnxruntime-web' | 'onnxruntime-node' | 'pytorch-cuda';
export type Runner = 'browser' | 'node' | 'gpu-script';
export type Mode = 'quick' | 'full';

export interface OpProfileRow {
  kernel: string;
  calls: number;
  ms: number;
  gflops: number | null;
}

export interface Agreement {
  /** What the output was compared with (the peer, or the float64 reference). */
  against: string;
  maxAbs: number;
  /** max|Δ| / max|reference|. */
  rel: number;
  /** With an f16 side: the smallest per-token cosine (ok needs ≥ F16_COSINE_MIN and no non-finite value). */
  cosine?: number;
  ok: boolean;
}

/** The dataset suite's split of an embed-dataset run (bench/lib/dataset.ts); times per image. */
export interface DatasetTimes {
  images: number;
  images_per_s: number;
  wall_ms: number;
  workers: number;
  batch: number;
  decode_ms_per_image: number;
  wait_ms_per_image: number;
  upload_ms_per_image: number;
  gpu_ms_per_image: number;
  write_ms_per_image: number;
}

/** Host and GPU memory at one point of a soak run. */
export interface SoakSample {
  /** Forwards done when the sample was taken. */
  forward: number;
  /** Host: process RSS and JS heap in use (Node's process.memoryUsage()), bytes. */
  rss: number;
  heap: number;
  /** Live GPU buffers made by the runtime (gpu.counters.bytesLive), bytes. */
  gpu_live: number;
}

export interface SoakResult {
  forwards: number;
  /** Distinct input shapes (image size × preprocessing × hidden states) cycled through. */
  shapes: number;
  /** Of the forwards, those on an image size never seen before (a new preprocessing plan each). */
  fresh_sizes?: number;
  /** Forwards that failed; the first failure's message is the record's `error`. */
  errors: number;
  /** After one warm-up pass over every shape (caches full), and after the last forward. */
  start: SoakSample;
  end: SoakSample;
  /** Every soak_every forwards (the trend, not just the ends). */
  samples: SoakSample[];
  gpu_peak: number;
  weight_bytes: number;
  /** The model's cache budgets (null: the defaults). */
  plan_cache_bytes: number | null;
  preprocess_cache_bytes: number | null;
  /** Buffers created over the measured forwards (plans compiled again after eviction). */
  buffers_created: number;
}

/** A kernel case's output check (bench/lib/sample-check.ts): worstRatio ≤ 1 passed. */
export interface KernelSampleCheck {
  samples: number;
  maxAbs: number;
  /** Worst |got − want| / (atol + rtol·|want|) over the sample. */
  worstRatio: number;
  atol: number;
  rtol: number;
}

export interface BenchRecord {
  suite: 'kernel' | 'model' | 'dataset' | 'soak';
  /** e.g. "matmul 300M fc1 B=1" or "internvit-tiny 224px B=1". */
  name: string;
  /** The measured shape in words, e.g. "M=1025 K=1024 N=4096" or "1×3×448×448". */
  shape: string;
  runtime: Runtime;
  runner: Runner;
  mode: Mode;
  /** The adapter as the runtime saw it (vendor, architecture, device/description). */
  adapter: string;
  adapter_type: 'software' | 'hardware';
  /**
   * Arithmetic: f32; f16 (ours at precision f16: f16 activations, f32 sums; the peer on an fp16 ONNX
   * export); PyTorch anchors also tf32 (TF32 tensor-core matmuls) and bf16 (autocast).
   */
  dtype: 'f32' | 'f16' | 'tf32' | 'bf16';
  /** Ours: how the linear layers' weights (matmul W) are stored on the GPU; absent = f32. */
  weights?: 'f32' | 'bf16' | 'f16' | 'int8' | 'int4';
  /** Ours, model suite: the arithmetic (load option precision, resolved); absent = f32. */
  precision?: 'f32' | 'f16';
  /** Ours, model suite: the --precision options this measurement stands for (e.g. ['f16', 'auto']). */
  precision_asked?: Precision[];
  /** Kernels: the sample of the output checked against the CPU reference before timing. */
  check?: KernelSampleCheck;
  /** Steady state (kernels: GPU time per dispatch; model: wall clock per forward incl. readback). */
  median_ms: number | null;
  p90_ms: number | null;
  /** Useful FLOP per second at the median (matmul FLOPs; 2 per multiply-add). */
  gflops: number | null;
  /** Effective bandwidth: unique bytes read + written per call / median time (kernels). */
  gbps?: number | null;
  /** How the time was taken. */
  timing: string;
  runs: number;
  /** GFLOP/s as a fraction of the GPU's float32 peak (GPU script: --peak-tflops). */
  peak_fraction?: number;
  /** Model: the first forward, plan compile and pipelines included (peer: session creation included). */
  first_run_ms?: number;
  /** Model: sum of per-op GPU times of one profiled forward (timestamp queries). */
  gpu_ms?: number;
  profile?: OpProfileRow[];
  dispatches?: number;
  submits?: number;
  /** Peak bytes of GPU buffers alive during the measurement (weights included). */
  peak_gpu_bytes?: number;
  weight_bytes?: number;
  /** The peer's output vs ours (on the peer's record), ours vs the float64 reference (on ours). */
  agreement?: Agreement[];
  dataset?: DatasetTimes;
  /** Soak suite: memory at the start and end of many forwards. */
  soak?: SoakResult;
  /** Model, the "… tuned" row: our heuristic row's median ÷ this row's (kernel versions tuned on the device). */
  tuned_vs_heuristic?: number;
  /** Set when the measurement could not be made: the reason, visibly (never silently dropped). */
  error?: string;
  note?: string;
  date: string;
}

export interface BenchOptions {
  mode: Mode;
  /**
   * Which suites: 'kernels', 'model', and (Node runner) 'checks': every kernel check on the adapter,
   * not timed; 'dataset': embed-dataset end to end; 'soak': many forwards of mixed shapes, memory at
   * start and end.
   */
  suites: string[];
  /** Soak: forwards to run after the warm-up pass (default 1000). */
  soakForwards: number;
  /** Soak: every N-th forward is an image size never seen before (0: never, the default). */
  soakNewEvery: number;
  /** Steady-state repetitions of each model configuration (≥ 10). */
  runs: number;
  /** Repetitions of each kernel case. */
  kernelRuns: number;
  warmup: number;
  /** Model filter: 'tiny', '300M', '6B' (full mode presets) or folder names. */
  models: string[];
  sizes: number[];
  batches: number[];
  /** Kernel filter: a substring of the kernel case names ('' = all). */
  kernelFilter: string;
  peer: boolean;
  /** Our model runs, one per weight storage ('auto': as in the checkpoint; duplicates measured once). */
  weights: WeightStorage[];
  /** Our model runs per storage, one per precision ('auto' resolves on the device; duplicates measured once). */
  precisions: Precision[];
  /**
   * Model suite, `--tune fast|full`: our rows are "… tuned" ones, kernel versions tuned on the device
   * in the run (no cache), each with `tuned_vs_heuristic` against a heuristic measurement of the same
   * configuration in the same run (not recorded again: run without --tune for the heuristic rows).
   * 'off' (default): the heuristics, as before tuning existed.
   */
  tune: 'off' | 'fast' | 'full';
}

export const QUICK_DEFAULTS: Omit<BenchOptions, 'mode'> = {
  suites: ['kernels', 'model'], runs: 10, kernelRuns: 5, warmup: 1, models: ['tiny'], sizes: [224], batches: [1],
  kernelFilter: '', peer: true, weights: ['auto'], soakForwards: 1000, soakNewEvery: 0, precisions: ['f32', 'auto'],
  tune: 'off',
};

export const FULL_DEFAULTS: Omit<BenchOptions, 'mode'> = {
  suites: ['kernels', 'model'], runs: 20, kernelRuns: 20, warmup: 3, models: ['300M', '6B'], sizes: [224, 448], batches: [1, 8],
  kernelFilter: '', peer: true, weights: ['f32', 'bf16', 'int8', 'int4'], soakForwards: 1000, soakNewEvery: 0, precisions: ['f32', 'auto'],
  tune: 'off',
};

function tuneOption(v: string): BenchOptions['tune'] {
  if (v === 'off' || v === 'fast' || v === 'full') return v;
  throw new Error(`--tune: '${v}' is not one of off, fast, full`);
}

/** Options from key/value pairs (CLI flags or URL query), over the mode's defaults. */
export function parseOptions(get: (key: string) => string | null | undefined, has: (key: string) => boolean): BenchOptions {
  const mode: Mode = has('quick') && get('quick') !== '0' ? 'quick' : 'full';
  const d = mode === 'quick' ? QUICK_DEFAULTS : FULL_DEFAULTS;
  const list = (key: string, fallback: string[]) => {
    const v = get(key);
    return v ? v.split(',').map((s) => s.trim()).filter(Boolean) : fallback;
  };
  const nums = (key: string, fallback: number[]) => list(key, fallback.map(String)).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${key}: '${s}' is not a positive integer`);
    return n;
  });
  const int = (key: string, fallback: number, min: number) => {
    const v = get(key);
    if (v === null || v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${key}: '${v}' is not an integer ≥ ${min}`);
    return n;
  };
  const suites = list('suites', d.suites);
  for (const s of suites) if (!['kernels', 'model', 'checks', 'dataset', 'soak'].includes(s)) throw new Error(`--suites: unknown suite '${s}' (kernels, model, checks, dataset, soak)`);
  const weights = list('weights', d.weights);
  for (const w of weights) if (!(WEIGHT_STORAGES as readonly string[]).includes(w)) throw new Error(`--weights: unknown weight storage '${w}' (${WEIGHT_STORAGES.join(', ')})`);
  const precisions = list('precision', d.precisions);
  for (const p of precisions) if (!(PRECISIONS as readonly string[]).includes(p)) throw new Error(`--precision: unknown precision '${p}' (${PRECISIONS.join(', ')})`);
  return {
    mode,
    suites,
    runs: int('runs', d.runs, 1),
    kernelRuns: int('kernel-runs', d.kernelRuns, 1),
    warmup: int('warmup', d.warmup, 0),
    models: list('models', d.models),
    sizes: nums('sizes', d.sizes),
    batches: nums('batches', d.batches),
    kernelFilter: get('kernels') ?? d.kernelFilter,
    peer: !(has('no-peer') && get('no-peer') !== '0'),
    weights: weights as WeightStorage[],
    soakForwards: int('soak-forwards', d.soakForwards, 1),
    soakNewEvery: int('soak-new-every', d.soakNewEvery, 0),
    precisions: precisions as Precision[],
    tune: tuneOption(get('tune') ?? d.tune),
  };
}
