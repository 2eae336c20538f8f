// The model suite with --tune fast: our row is "… tuned" (kernel versions timed on the device in the
// run, no cache) and carries tuned_vs_heuristic against a heuristic run of the same configuration.
// Software numbers: only the wiring is tested, not which version is faster.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runModelSuite } from '../../bench/lib/model.js';
import { parseOptions } from '../../bench/lib/types.js';
import { useGpu } from '../node-gpu.js';

// The smallest model fixture (2 layers, hidden 32, 28 px): its pixels and float64 reference come along.
const spec = { key: 'ln', label: 'layernorm-f32', folder: join(process.cwd(), 'test/fixtures/model/layernorm-f32'), display: 'test/fixtures/model/layernorm-f32' };

describe('model suite --tune', () => {
  const gpu = useGpu();

  it('records a tuned row with the tuned-vs-heuristic ratio and the choices', async () => {
    const opts = { ...parseOptions((k) => ({ quick: '1', tune: 'fast' })[k] ?? null, (k) => k === 'quick' || k === 'tune'), runs: 1, warmup: 0, sizes: [28], precisions: ['f32' as const], peer: false };
    expect(opts.tune).toBe('fast');
    const records = await runModelSuite({ gpu: gpu(), opts, runner: 'node', peer: null, onRecord: () => {} }, [spec]);
    console.log(records.map((r) => `${r.name}: ${r.median_ms} ms, ratio ${r.tuned_vs_heuristic}; ${r.error ?? r.note}`).join('\n'));
    expect(records.map((r) => [r.runtime, r.name, r.error ?? null])).toEqual([['internvit-webgpu', 'layernorm-f32 28px B=1 tuned', null]]);
    const r = records[0]!;
    expect(r.tuned_vs_heuristic).toBeGreaterThan(0);
    expect(r.note).toMatch(/kernel versions tuned in this run \(tune 'fast', (timestamp queries|wall clock); .*heuristic median [\d.]+ ms ÷ tuned [\d.]+ ms = [\d.]+; matmul M5 N96 K32 /);
    expect(r.agreement?.map((a) => a.ok)).toEqual([true]); // vs the fixture's float64 reference
  }, 300_000);

  it('refuses an unknown --tune value', () => {
    expect(() => parseOptions((k) => (k === 'tune' ? 'fastest' : null), (k) => k === 'tune')).toThrow("--tune: 'fastest' is not one of off, fast, full");
  });
});
