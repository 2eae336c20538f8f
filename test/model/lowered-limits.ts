// A Gpu that sees lower limits than its device has: what a constrained browser or phone would offer.
// The device is the same; only the runtime's view of its limits changes, which is all the
// micro-batching splitter and compilePlan read. Browser-safe (used by parity-core.ts).
import type { Gpu } from '../../src/runtime/device.js';
import { planLimitViolations } from '../../src/runtime/limits.js';
import type { Plan } from '../../src/runtime/plan.js';

/**
 * `gpu` with some limits lowered. By default it gets its own cache, so plans cached per device
 * (preprocessing) are not shared with the unrestricted view; `shareCache` keeps the pipeline cache.
 */
export function withLimits(gpu: Gpu, lower: Partial<Record<keyof GPUSupportedLimits, number>>, opts: { shareCache?: boolean } = {}): Gpu {
  const limits: Record<string, number> = {};
  for (const k in gpu.limits) limits[k] = (gpu.limits as unknown as Record<string, number>)[k]!;
  return { ...gpu, limits: { ...limits, ...lower } as unknown as GPUSupportedLimits, cache: opts.shareCache ? gpu.cache : new Map() };
}

/** The largest binding (bytes, as bound) of a recorded plan: a limit at which that plan just fits. */
export function largestBinding(plan: Plan): number {
  let max = 0;
  for (const op of plan.ops) {
    if (op.type === 'dispatch') for (const r of Object.values(op.bindings)) max = Math.max(max, Math.ceil(r.byteLength / 4) * 4);
  }
  return max;
}

/** True when the plan breaks no limit of its Gpu. */
export function planFits(plan: Plan): boolean {
  return planLimitViolations(plan).length === 0;
}
