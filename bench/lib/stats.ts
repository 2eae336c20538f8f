// Order statistics of timings, and the clock. performance.now() exists in browsers and in Node.

import { warmUp } from '../../src/runtime/warm-up.js';

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  // Nearest rank: p90 of 10 runs is the 9th smallest, never an interpolated value that was not measured.
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1]!;
}

export const median = (v: readonly number[]): number => {
  if (v.length === 0) return NaN;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export const now = (): number => performance.now();

/** Warms up (src/runtime/warm-up.ts: `warmup` runs and at least WARMUP_MIN_MS), then runs `fn` `runs` times timed; returns each run's milliseconds. */
export async function timeRuns(fn: () => Promise<unknown>, runs: number, warmup: number): Promise<number[]> {
  await warmUp(fn, warmup);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = now();
    await fn();
    times.push(now() - t);
  }
  return times;
}

/** max|a − b| and max|b|, over the common length. */
export function compareArrays(got: ArrayLike<number>, want: ArrayLike<number>): { maxAbs: number; maxRef: number } {
  if (got.length !== want.length) throw new Error(`output sizes differ: ${got.length} vs ${want.length} values`);
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    // NaN anywhere must show, not vanish in a max.
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? NaN : d;
    if (Number.isNaN(maxAbs)) break;
    maxRef = Math.max(maxRef, Math.abs(want[i]!));
  }
  return { maxAbs, maxRef };
}

/** Deterministic pixel_values-like data (ImageNet-normalised range) from a seed. */
export function randomPixels(count: number, seed = 7): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = (s / 4294967296 - 0.5) * 4;
  }
  return out;
}

export function randomArray(count: number, seed: number, scale = 1): Float32Array {
  const a = randomPixels(count, seed);
  for (let i = 0; i < a.length; i++) a[i] = (a[i]! / 4) * scale; // uniform in ±scale/2
  return a;
}
