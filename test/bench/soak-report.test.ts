// Soak records in bench/results (no GPU): a run replaces only the suites it ran, and the summary
// shows memory at the start and end of the soak.
import { describe, expect, it } from 'vitest';
import { summaryMarkdown } from '../../bench/lib/report.js';
import { mergeResults, type Results, type RunInfo } from '../../bench/lib/results.js';
import { parseOptions, type BenchRecord } from '../../bench/lib/types.js';

const rec = (suite: BenchRecord['suite'], runner: BenchRecord['runner'], extra: Partial<BenchRecord> = {}): BenchRecord => ({
  suite, name: `${suite} x`, shape: '', runtime: 'internvit-webgpu', runner, mode: 'quick', adapter: 'sw', adapter_type: 'software',
  dtype: 'f32', median_ms: 1, p90_ms: 2, gflops: null, timing: '', runs: 1, date: '2026-11-30T00:00:00Z', ...extra,
});
const run = (runner: RunInfo['runner'], suites?: BenchRecord['suite'][]): RunInfo => ({
  runner, mode: 'quick', command: `${runner} ${suites?.join(',') ?? 'all'}`, seconds: 1, adapter: 'sw', environment: '', date: '2026-11-30T00:00:00Z', suites,
});

describe('soak records', () => {
  it('a soak run replaces only the old soak records of its runner; a model+kernel run keeps the soak', () => {
    const old: Results = { runs: [run('node'), run('browser')], records: [rec('model', 'node'), rec('kernel', 'node'), rec('model', 'browser'), rec('soak', 'node', { name: 'old soak' })] };
    const soak = mergeResults(old, run('node', ['soak']), [rec('soak', 'node', { name: 'new soak' })]);
    expect(soak.records.map((r) => `${r.runner} ${r.name}`)).toEqual(['node model x', 'node kernel x', 'browser model x', 'node new soak']);
    expect(soak.runs.map((r) => r.command)).toEqual(['node all', 'browser all', 'node soak']);
    const again = mergeResults(soak, run('node', ['kernel', 'model']), [rec('model', 'node', { name: 'new model' })]);
    expect(again.records.map((r) => `${r.runner} ${r.name}`)).toEqual(['browser model x', 'node new soak', 'node new model']);
    expect(again.runs.map((r) => r.command)).toEqual(['browser all', 'node soak', 'node kernel,model']);
  });

  it('the summary has a soak row with memory at start and end; --soak-forwards is parsed', () => {
    const sample = (forward: number, mib: number) => ({ forward, rss: mib * 2 ** 20, heap: 10 * 2 ** 20, gpu_live: 3 * 2 ** 20 });
    const r = rec('soak', 'node', {
      name: 'internvit-tiny soak', median_ms: 85.5, p90_ms: 120,
      soak: { forwards: 1000, shapes: 24, errors: 0, start: sample(0, 360), end: sample(1000, 361), samples: [], gpu_peak: 3.5 * 2 ** 20, weight_bytes: 2e6, plan_cache_bytes: null, preprocess_cache_bytes: null, buffers_created: 42 },
    });
    expect(summaryMarkdown([r])).toContain('| node | internvit-tiny soak | 1000 | 24 | 0 | 85.50 / 120.0 | 360.0 → 361.0 | 10.0 → 10.0 | 3.0 → 3.0 (3.5) | 42 |');
    expect(parseOptions((k) => ({ quick: '1', suites: 'soak', 'soak-forwards': '50' })[k], (k) => k === 'quick').soakForwards).toBe(50);
    expect(() => parseOptions((k) => ({ suites: 'soak', 'soak-forwards': '0' })[k], () => false)).toThrow(/soak-forwards/);
  });
});
