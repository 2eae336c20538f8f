// The kernel bench's output check (bench/lib/sample-check.ts): quick cases pass it on this adapter
// (one per kernel and precision: the software adapter is slow; `npm run bench:node -- --quick` runs
// them all), and a case whose output disagrees with its reference is reported FAILED and never timed.
import { describe, expect, it } from 'vitest';
import { attentionReference, attentionReferenceRow } from '../../src/kernels/attention.js';
import { benchKernel, kernelCases, type KernelCase } from '../../bench/lib/kernels.js';
import { sampleIndices, SAMPLE_SIZE } from '../../bench/lib/sample-check.js';
import { parseOptions } from '../../bench/lib/types.js';
import { randomArray } from '../../src/kernels/check-harness.js';
import { skipTest, useGpu } from '../node-gpu.js';

const opts = { ...parseOptions((k) => (k === 'quick' ? '1' : null), (k) => k === 'quick'), kernelRuns: 1, warmup: 0 };

describe('sample indices', () => {
  it('distinct, ascending, seeded, with both ends; every index when the output is small', () => {
    const a = sampleIndices(1_000_000, 5);
    expect(a).toHaveLength(SAMPLE_SIZE);
    expect(new Set(a).size).toBe(SAMPLE_SIZE);
    expect(a).toEqual([...a].sort((x, y) => x - y));
    expect([a[0], a.at(-1)]).toEqual([0, 999_999]);
    expect(sampleIndices(1_000_000, 5)).toEqual(a);
    expect(sampleIndices(1_000_000, 6)).not.toEqual(a);
    expect(sampleIndices(7, 5)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});

it('attentionReferenceRow is the row of attentionReference', () => {
  const [batch, n, heads, hd] = [2, 9, 3, 4];
  const qkv = randomArray(batch * n * 3 * heads * hd, 3, -2, 2);
  const all = attentionReference(qkv, batch, n, heads, hd);
  const at = (1 * n + 7) * heads * hd + 2 * hd;
  expect(Array.from(attentionReferenceRow(qkv, n, heads, hd, 1, 7, 2))).toEqual(Array.from(all.subarray(at, at + hd)));
});

describe('kernel bench: each case is checked before it is timed', () => {
  const gpu = useGpu();
  // The first quick case of each kernel at each precision (the sample's reference differs per kernel).
  const seen = new Set<string>();
  const cases = kernelCases('quick').filter((c) => {
    const kind = `${c.name.split(' ')[0]} ${c.precision ?? 'f32'}`;
    return !seen.has(kind) && !!seen.add(kind);
  });
  it('covers every kernel of the suite, f32 and f16', () => {
    expect([...seen]).toEqual(['matmul f32', 'matmul f16', 'attention f32', 'attention f16', 'layernorm f32', 'rmsnorm f32', 'layernorm f16', 'softmax f32']);
  });
  for (const c of cases) {
    it(c.name, async (ctx) => {
      const r = await benchKernel(gpu(), c, opts, 'node');
      if (r.error && c.precision === 'f16' && !gpu().features.shaderF16) skipTest(ctx, `${c.name}: ${r.error}`);
      expect(r.error).toBeUndefined();
      expect(r.check?.samples).toBe(SAMPLE_SIZE);
      expect(r.check!.worstRatio).toBeLessThanOrEqual(1);
      expect(r.median_ms).toBeGreaterThan(0);
    }, 60_000);
  }

  it('a case whose output misses its reference is FAILED with the worst element, and not timed', async () => {
    const good = kernelCases('quick').find((c) => c.name === 'layernorm D128 rows=1025')!;
    // The same kernel against a reference off by 1% of each value (plus a constant, for zeros).
    const wrong: KernelCase = {
      ...good, name: 'layernorm with a wrong reference',
      build(plan) {
        const out = good.build(plan);
        return { ...out, reference: (idx) => out.reference(idx).map((v) => v * 1.01 + 1e-3) };
      },
    };
    const r = await benchKernel(gpu(), wrong, opts, 'node');
    expect(r.error).toMatch(/^FAILED the output check, not timed: FAIL layernorm with a wrong reference: .*worst at \d+: got .*, want /);
    expect(r.check!.worstRatio).toBeGreaterThan(1);
    expect([r.median_ms, r.runs]).toEqual([null, 0]);
  }, 60_000);
});
