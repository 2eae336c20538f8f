// The per-device pipeline cache is bounded: shapes are override constants, so every new shape adds
// pipelines; the least recently used beyond the limit are dropped, and a plan that holds a dropped
// pipeline still runs (it keeps its own reference).
import { describe, expect, it } from 'vitest';
import { useGpu } from '../node-gpu.js';
import { randomArray } from '../../src/kernels/check-harness.js';
import {
  compilePlan, createPlan, DEFAULT_PIPELINE_CACHE_LIMIT, disposePlan, gelu, geluReference, input, output, pipelineCacheStats, runPlan,
  setPipelineCacheLimit, type Gpu,
} from '../../src/internal.js';

async function geluPlan(gpu: Gpu, n: number) {
  const plan = createPlan(gpu, `gelu ${n}`);
  output(plan, 'y', gelu(plan, input(plan, 'x', [n])));
  return compilePlan(plan);
}

describe('pipeline cache', () => {
  const gpu = useGpu();

  it('keeps the most recent pipelines up to the limit; plans keep theirs', async () => {
    const g = gpu();
    expect(pipelineCacheStats(g).limit).toBe(DEFAULT_PIPELINE_CACHE_LIMIT);
    setPipelineCacheLimit(g, 4);
    try {
      const created = g.counters.pipelinesCreated;
      const first = await geluPlan(g, 1001);
      const plans = [first];
      for (let i = 1; i < 8; i++) plans.push(await geluPlan(g, 1001 + i));
      expect(g.counters.pipelinesCreated - created).toBe(8);
      expect(pipelineCacheStats(g).size).toBeLessThanOrEqual(4);
      // The first plan's pipeline left the cache; the plan still runs it.
      const x = randomArray(1001, 3, -3, 3);
      const y = (await runPlan(first, { x })).y as Float32Array;
      const want = geluReference(x);
      expect(Math.max(...Array.from(y, (v, i) => Math.abs(v - want[i]!)))).toBeLessThan(1e-5);
      // Compiling that shape again makes its pipeline again; a recent one is reused.
      plans.push(await geluPlan(g, 1001), await geluPlan(g, 1008));
      expect(g.counters.pipelinesCreated - created).toBe(9);
      for (const p of plans) disposePlan(p);
      expect(() => setPipelineCacheLimit(g, 0)).toThrow(/limit/);
    } finally {
      setPipelineCacheLimit(g, DEFAULT_PIPELINE_CACHE_LIMIT);
    }
  });
});
