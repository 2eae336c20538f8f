// Warm-up before timing, shared by the tuner and the benchmarks.

/** Untimed warm-up: at least this long (and at least the runs asked for). */
export const WARMUP_MIN_MS = 300;

/**
 * Runs `fn` untimed until it ran `minRuns` times and `minMs` have passed. A GPU that idled (between
 * cases, during a CPU-side check, while pipelines compiled) clocks down, and a few short runs do not
 * bring it back: on an H200 the same matmul timed 0.26 ms right after a busy step and 1.4 ms after an
 * idle one (bench/results/gpu-h200-2026-11-30).
 */
export async function warmUp(fn: () => Promise<unknown>, minRuns: number, minMs = WARMUP_MIN_MS): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < minRuns || (performance.now() - t0 < minMs && i < 100_000); i++) await fn();
}
