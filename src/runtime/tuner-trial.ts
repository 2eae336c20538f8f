// Timing one op shape's versions on this device (the autotuner's measurement; tuner.ts decides
// when). Each available version records the op alone (its table's trial()), reads the same random
// inputs, and runs once for its output: it must be finite and agree with the heuristic version's
// output, else it is rejected and can never be chosen. Agreeing versions are then timed in turns
// (one run of each per round, so load or clock drift weighs on all alike), with timestamp queries
// where the device has 'timestamp-query', else by wall clock around the submit (runPlan awaits
// onSubmittedWorkDone when nothing is read back). All of this allocates, so it runs while a plan is
// being compiled, never inside runPlan.
import { DeviceLostError, type Gpu } from './device.js';
import { halfBitsToF32, toHalfBits } from './dtype.js';
import { runPlan, type RunInputs } from './executor.js';
import { compilePlan, createPlan, disposePlan, output, type CompiledPlan, type TensorRef } from './plan.js';
import { rng } from './rng.js';
import { disposeTensor, numel, shapeString, uploadTensor, type DType, type Tensor } from './tensor.js';
import type { VersionTable } from './versions.js';
import { warmUp } from './warm-up.js';

export type TimingMethod = 'timestamp-query' | 'wall-clock';

export interface CandidateResult {
  version: string;
  /** timed: agreed and was timed; rejected: wrong or non-finite output; unavailable: cannot run here; failed: an error. */
  status: 'timed' | 'rejected' | 'unavailable' | 'failed';
  /** Median milliseconds per run (timed only). */
  ms?: number;
  /** Why it was not timed. */
  why?: string;
}

export interface TuneResult {
  kernel: string;
  key: string;
  /** The version chosen: the fastest timed one, the heuristic unless another is MIN_GAIN faster (or nothing else agreed). */
  choice: string;
  heuristic: string;
  timing: TimingMethod;
  /** Timed runs per candidate (after warm-up). */
  reps: number;
  candidates: CandidateResult[];
  /** ISO time of the measurement. */
  at: string;
}

export interface TrialOptions {
  /** Timed runs per candidate (the median is kept). */
  reps: number;
  /** Untimed runs before timing (the first also yields the output compared). */
  warmup: number;
  seed?: number;
  /** Tests only: replaces a candidate's measured milliseconds (a fake clock). */
  clock?: (version: string, measuredMs: number) => number;
}

/**
 * Agreement between two versions, from the checks' f32 tolerance (src/kernels/check-harness.ts: ATOL =
 * RTOL = 5e-4 against a float64 reference). Each version passed that against the exact result, so
 * two of them may differ by twice it. The checks' inputs give outputs of order 1; accumulation-order
 * differences grow with the magnitude of the summed terms, which with random inputs the reference
 * output's RMS measures, so the absolute term is scaled by max(1, RMS). f16 outputs: each version
 * rounds its f32 sum to f16 once (half an ulp, 2^-11 relative), so two of them may sit one ulp apart,
 * plus the f32 difference: RTOL 1e-3 each (the checks' RTOL_F16_OUT), doubled likewise. A wrong
 * version (a missed tile, a wrong row) is off by about the RMS itself, hundreds of times this.
 */
const ATOL = 5e-4;
const RTOL_F32 = 5e-4;
const RTOL_F16 = 1e-3;
/** bf16 keeps 8 significant bits: half an ulp is 2^-9 ≈ 2e-3, two of them as for f16. */
const RTOL_BF16 = 4e-3;

export function versionAgreement(got: Float32Array, want: Float32Array, dtype: DType): string | null {
  if (got.length !== want.length) return `output has ${got.length} values, the heuristic's ${want.length}`;
  let sq = 0;
  for (let i = 0; i < want.length; i++) sq += want[i]! * want[i]!;
  const scale = Math.max(1, Math.sqrt(sq / Math.max(1, want.length)));
  const rtol = dtype === 'f16' ? RTOL_F16 : dtype === 'bf16' ? RTOL_BF16 : RTOL_F32;
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    if (!Number.isFinite(g)) return `non-finite value ${g} at index ${i}`;
    const ratio = Math.abs(g - want[i]!) / (2 * (ATOL * scale + rtol * Math.abs(want[i]!)));
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = i;
    }
  }
  if (worstRatio <= 1) return null;
  return `disagrees with the heuristic version: index ${worst} got ${got[worst]}, want ${want[worst]} ` +
    `(${(100 * worstRatio).toFixed(0)}% of the tolerance 2·(${ATOL}·${scale.toPrecision(3)} + ${rtol}·|want|))`;
}

/** A version other than the heuristic must be at least this much faster to be chosen. */
export const MIN_GAIN = 0.02;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function toF32(data: ArrayLike<number>, dtype: DType): Float32Array {
  if (dtype === 'f16' || dtype === 'bf16') return halfBitsToF32(data, dtype);
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

/** Random inputs shared by every candidate: uniform [-1, 1) in a float input's dtype, random words for packed
 * (u32/i32) weight codes; uploaded once. */
class TrialInputs {
  private readonly tensors = new Map<string, Tensor>();
  private readonly next: () => number;

  constructor(private readonly gpu: Gpu, seed: number) {
    this.next = rng(seed);
  }

  for(plan: CompiledPlan): RunInputs {
    const out: RunInputs = {};
    for (const [name, ref] of plan.plan.inputs) out[name] = this.get(name, ref);
    return out;
  }

  private get(name: string, ref: TensorRef): Tensor {
    const have = this.tensors.get(name);
    if (have) {
      if (have.dtype !== ref.dtype || shapeString(have.shape) !== shapeString(ref.shape)) {
        throw new Error(`trial input '${name}' is ${shapeString(ref.shape)} ${ref.dtype} here but ${shapeString(have.shape)} ${have.dtype} in another version's trial`);
      }
      return have;
    }
    const n = numel(ref.shape);
    let t: Tensor;
    if (ref.dtype === 'u32' || ref.dtype === 'i32') {
      // Packed int8/int4 weight codes: every bit pattern is a valid code, so random words are random weights.
      const words = new Uint32Array(n);
      for (let i = 0; i < n; i++) words[i] = Math.floor(this.next() * 0x1_0000_0000) >>> 0;
      t = uploadTensor(this.gpu, words, ref.shape, ref.dtype, `tune:${name}`);
    } else {
      const values = new Float32Array(n);
      for (let i = 0; i < n; i++) values[i] = 2 * this.next() - 1;
      if (ref.dtype === 'f32') t = uploadTensor(this.gpu, values, ref.shape, 'f32', `tune:${name}`);
      else t = uploadTensor(this.gpu, toHalfBits(values, ref.dtype, name), ref.shape, ref.dtype, `tune:${name}`);
    }
    this.tensors.set(name, t);
    return t;
  }

  dispose(): void {
    for (const t of this.tensors.values()) disposeTensor(this.gpu, t);
    this.tensors.clear();
  }
}

async function timeRuns(compiled: CompiledPlan, inputs: RunInputs, method: TimingMethod, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await runPlan(compiled, inputs, { read: [] });
    if (method === 'wall-clock') times.push(performance.now() - t0);
    else times.push((compiled.lastProfile ?? []).reduce((a, t) => a + t.ms, 0));
  }
  return times;
}

/**
 * Times every available version of one op shape (see the file comment). The heuristic version is
 * the reference: when it cannot produce a finite output, nothing else can be trusted and it stays
 * the choice. An error in another version marks it failed; one in the heuristic is thrown.
 */
export async function tuneOp<S>(gpu: Gpu, table: VersionTable<S>, shape: S, opts: TrialOptions): Promise<TuneResult> {
  const heuristic = table.heuristic(gpu, shape);
  const key = table.key(shape);
  const timing: TimingMethod = gpu.features.timestamps ? 'timestamp-query' : 'wall-clock';
  const candidates: CandidateResult[] = [];
  const order = [...table.versions].sort((a, b) => Number(b.name === heuristic) - Number(a.name === heuristic));
  const inputs = new TrialInputs(gpu, opts.seed ?? 1);
  let reference: Float32Array | null = null;
  let referenceWhy: string | null = null;
  // Versions that agreed, compiled and kept until all are timed: timing goes round-robin, one run of
  // each in turn, so a drift in clocks or a busy machine weighs on every version alike.
  const agreed: { version: string; compiled: CompiledPlan; feed: RunInputs; times: number[] }[] = [];
  const failed = (version: string, e: unknown): void => {
    // The heuristic is what the plan would record anyway: its error is the plan's. A lost device ends tuning.
    if (version === heuristic || e instanceof DeviceLostError) throw e;
    candidates.push({ version, status: 'failed', why: (e as Error).message });
  };
  try {
    for (const v of order) {
      const why = v.unavailable?.(gpu, shape);
      if (why) {
        candidates.push({ version: v.name, status: 'unavailable', why });
        continue;
      }
      let compiled: CompiledPlan | null = null;
      try {
        const plan = createPlan(gpu, `tune ${table.kernel} ${key} ${v.name}`);
        const out = table.trial(plan, shape, v.name);
        output(plan, 'out', out);
        compiled = await compilePlan(plan, { profile: timing === 'timestamp-query' });
        const feed = inputs.for(compiled);
        const got = toF32((await runPlan(compiled, feed, { read: ['out'] })).out!, out.dtype);
        if (v.name === heuristic) {
          reference = got;
          const bad = got.findIndex((x) => !Number.isFinite(x));
          if (bad >= 0) referenceWhy = `the heuristic version's output is not finite (index ${bad}) on random inputs: nothing to compare the others with`;
        } else {
          const why = referenceWhy ?? (reference ? versionAgreement(got, reference, out.dtype) : 'no reference output');
          if (why) {
            candidates.push({ version: v.name, status: 'rejected', why });
            disposePlan(compiled);
            continue;
          }
        }
        agreed.push({ version: v.name, compiled, feed, times: [] });
      } catch (e) {
        if (compiled) disposePlan(compiled);
        failed(v.name, e);
      }
    }
    // The GPU idled while the candidates compiled: bring its clocks up before the timed rounds.
    if (agreed.length) await warmUp(() => runPlan(agreed[0]!.compiled, agreed[0]!.feed, { read: [] }), 1);
    for (let round = 0; round < Math.max(0, opts.warmup - 1) + opts.reps; round++) {
      for (const a of [...agreed]) {
        try {
          const [t] = await timeRuns(a.compiled, a.feed, timing, 1);
          if (round >= opts.warmup - 1) a.times.push(t!);
        } catch (e) {
          agreed.splice(agreed.indexOf(a), 1);
          disposePlan(a.compiled);
          failed(a.version, e);
        }
      }
    }
    for (const a of agreed) {
      const measured = median(a.times);
      candidates.push({ version: a.version, status: 'timed', ms: opts.clock ? opts.clock(a.version, measured) : measured });
    }
  } finally {
    for (const a of agreed) disposePlan(a.compiled);
    inputs.dispose();
  }
  // The fastest timed version; the heuristic keeps its place unless another beats it by MIN_GAIN
  // (timer noise and times below the timestamp resolution must not flip choices between runs).
  let choice = heuristic;
  if (!referenceWhy) {
    const h = candidates.find((c) => c.version === heuristic && c.status === 'timed');
    let best = h ? h.ms! * (1 - MIN_GAIN) : Infinity;
    for (const c of candidates) if (c.status === 'timed' && c.version !== heuristic && c.ms! < best) [best, choice] = [c.ms!, c.version];
  }
  const rank = (name: string) => table.versions.findIndex((v) => v.name === name);
  candidates.sort((a, b) => rank(a.version) - rank(b.version));
  return { kernel: table.kernel, key, choice, heuristic, timing, reps: opts.reps, candidates, at: new Date().toISOString() };
}
