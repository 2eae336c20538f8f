// Automatic micro-batching. A batch whose plan would break a device limit (an activation over
// maxStorageBufferBindingSize, a dispatch over maxComputeWorkgroupsPerDimension, …) runs as several
// passes of the largest batch that fits. "Fits" is decided on the real recorded plan, never on a
// parallel size formula: recording allocates nothing (compilePlan does), so candidate batches are
// recorded and handed to planLimitViolations, and the answer is cached per model and shape.
import { describeViolation, LimitError, planLimitViolations, type LimitViolation } from '../runtime/limits.js';
import type { Gpu } from '../runtime/device.js';
import type { Plan } from '../runtime/plan.js';
import type { HostArray } from '../runtime/executor.js';
import { shapeString, type Tensor } from '../runtime/tensor.js';

/** Searches stop here: `describe()` says "at least" this many when even this batch fits. */
export const MAX_BATCH_SEARCH = 65536;

export interface BatchFit {
  /** The largest batch (at most the one asked about) whose plan fits the device in one pass. */
  batch: number;
  /** What the next larger batch broke; null when the batch asked about fits. */
  limitedBy: string | null;
}

/** What is known for one (model, shape): batches ≤ fits fit, batches ≥ fails do not. */
interface Bounds {
  fits: number;
  fails: number;
  reason: string | null;
}

// Per device view (a Gpu: its limits) and per owner, so a model moved to a new device asks again.
const known = new WeakMap<Gpu, WeakMap<object, Map<string, Bounds>>>();

function boundsFor(gpu: Gpu, owner: object, key: string): Bounds {
  let byOwner = known.get(gpu);
  if (!byOwner) known.set(gpu, (byOwner = new WeakMap()));
  let byKey = byOwner.get(owner);
  if (!byKey) byOwner.set(owner, (byKey = new Map()));
  let b = byKey.get(key);
  if (!b) byKey.set(key, (b = { fits: 0, fails: Infinity, reason: null }));
  return b;
}

/** The LimitError of a plan that does not fit even at batch 1, with what the caller can change. */
export function limitErrorWithAdvice(plan: Plan, violations: LimitViolation[], advice: string): LimitError {
  const e = new LimitError(plan.label, violations);
  e.message += `. ${advice}`;
  return e;
}

/**
 * Records the plan for `batch` and says whether it fits: null, or what it broke. At batch 1 a
 * violation is thrown as a LimitError with `advice`, and a recording error is rethrown as it is
 * (wrong shapes, …). For a larger batch a recording error counts as "does not fit": batch 1
 * recorded fine, and only a size grows with the batch (e.g. dispatch() refusing a workgroup count).
 */
function tryBatch(record: (batch: number) => Plan, batch: number, advice: string): string | null {
  let plan: Plan;
  try {
    plan = record(batch);
  } catch (e) {
    if (batch === 1) throw e;
    return (e as Error).message;
  }
  const v = planLimitViolations(plan);
  if (v.length === 0) return null;
  if (batch === 1) throw limitErrorWithAdvice(plan, v, advice);
  return `${plan.label}: ${describeViolation(v[0]!)}`;
}

export interface FitQuery {
  /** The device view whose limits apply. */
  gpu: Gpu;
  /** Whose plans these are (a model): the cache lives as long as it and the Gpu do. */
  owner: object;
  /** Everything besides the batch that changes the recorded plan (image size, outputs, …). */
  key: string;
  /** Records (never compiles) the plan for a batch. */
  record: (batch: number) => Plan;
  /** Appended to the LimitError when even batch 1 does not fit. */
  advice: string;
}

/**
 * The largest batch ≤ `want` that fits in one pass. `want` = Infinity searches upward (doubling,
 * then bisection) up to MAX_BATCH_SEARCH. Throws the LimitError (with advice) when batch 1 does not fit.
 */
export function largestBatch(q: FitQuery, want: number): BatchFit {
  const b = boundsFor(q.gpu, q.owner, q.key);
  const test = (n: number): boolean => {
    const reason = tryBatch(q.record, n, q.advice);
    if (reason === null) b.fits = Math.max(b.fits, n);
    else if (n < b.fails) {
      b.fails = n;
      b.reason = reason;
    }
    return reason === null;
  };
  const target = Math.min(want, MAX_BATCH_SEARCH);
  if (target <= b.fits) return { batch: target, limitedBy: null };
  // A finite batch is tried first: the common case is that it fits, in one recording.
  if (want !== Infinity && target < b.fails && test(target)) return { batch: target, limitedBy: null };
  if (b.fits === 0) test(1); // throws when even one does not fit
  // Grow by doubling while no failing batch is known, then bisect.
  while (b.fails === Infinity && b.fits < target) test(Math.min(b.fits * 2, target));
  while (b.fails - b.fits > 1 && b.fits < target) test(Math.floor((b.fits + b.fails) / 2));
  return { batch: Math.min(b.fits, target), limitedBy: b.fits < target ? b.reason : null };
}

/** Sizes of the passes: as many as possible of `size`, the rest last ([6, 6, 1] for 13 by 6). */
export function passSizes(total: number, size: number): number[] {
  const out: number[] = [];
  for (let done = 0; done < total; done += size) out.push(Math.min(size, total - done));
  return out;
}

/**
 * Items [start, start + count) of a batch input whose items are `itemBytes` each: a subarray of a
 * host array, or a view of a GPU tensor (byteOffset), copied into the plan's input in the command buffer.
 */
export function sliceBatch(x: HostArray | Tensor, itemShape: readonly number[], start: number, count: number, itemBytes: number): HostArray | Tensor {
  if ('buffer' in x && 'shape' in x && !ArrayBuffer.isView(x)) {
    const t = x as Tensor;
    return { ...t, shape: [count, ...itemShape], byteLength: count * itemBytes, byteOffset: (t.byteOffset ?? 0) + start * itemBytes, label: `${t.label}[${start}:${start + count}]` };
  }
  const a = x as HostArray;
  const per = itemBytes / a.BYTES_PER_ELEMENT;
  return a.subarray(start * per, (start + count) * per);
}

/** Checks a whole batch input's size before it is cut into passes (each pass checks only its slice). */
export function checkBatchInput(label: string, name: string, x: HostArray | Tensor, shape: readonly number[], bytes: number): void {
  if (x.byteLength === bytes) return;
  const got = ArrayBuffer.isView(x) ? `${x.constructor.name} of ${(x as HostArray).length} elements` : `${shapeString((x as Tensor).shape)} ${(x as Tensor).dtype}`;
  throw new Error(`${label}: input '${name}' expects ${shapeString(shape)} f32 (${bytes} bytes), got ${got}`);
}

/** Joins per-pass host outputs along the batch (first) dimension. */
export function concatBatch(parts: { data: Float32Array; shape: number[] }[]): { data: Float32Array; shape: number[] } {
  const first = parts[0]!;
  const data = new Float32Array(parts.reduce((a, p) => a + p.data.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p.data, at);
    at += p.data.length;
  }
  return { data, shape: [parts.reduce((a, p) => a + p.shape[0]!, 0), ...first.shape.slice(1)] };
}
