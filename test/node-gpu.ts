// One WebGPU device per test file (Dawn in Node), destroyed after the file so Dawn exits cleanly.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeGpu, destroyGpu, getGpu, type Gpu } from '../src/runtime/device.js';
import { formatResult, type KernelCheck } from '../src/kernels/check-harness.js';

export function useGpu(): () => Gpu {
  let gpu: Gpu | undefined;
  beforeAll(async () => {
    gpu = await getGpu();
    console.log(describeGpu(gpu));
  });
  afterAll(() => {
    if (gpu) destroyGpu(gpu);
  });
  return () => {
    if (!gpu) throw new Error('GPU not ready');
    return gpu;
  };
}

/** One vitest test per kernel check; prints the measured error, and skips say why. */
export function runChecks(checks: KernelCheck[], timeout = 120_000): void {
  const gpu = useGpu();
  for (const check of checks) {
    it(check.name, async (ctx) => {
      const r = await check.run(gpu());
      console.log(formatResult(r));
      if (r.skipped) ctx.skip(r.skipped);
      expect(r.ok, formatResult(r)).toBe(true);
    }, timeout);
  }
}

/** Skips the running test and prints why (vitest's default reporter shows a skip without its reason). */
export function skipTest(ctx: { skip(note?: string): never }, reason: string): never {
  console.log(`SKIP: ${reason}`);
  return ctx.skip(reason);
}
