// A tuned model still matches PyTorch: the layernorm-f32 fixture tuned with a fake clock that makes
// a version other than the heuristic win wherever one agrees (so the parity run really records
// non-default versions), held to the parity test's tolerance; then a second load from the same
// cache times nothing and describe() lists the tuned choices; 'off' lists the heuristics.
import { describe, expect, it } from 'vitest';
import { InternViT } from '../../src/api.js';
import { memoryTuningStore } from '../../src/runtime/tuner-cache.js';
import type { TuneResult } from '../../src/runtime/tuner-trial.js';
import { formatResult } from '../../src/kernels/check-harness.js';
import { useGpu } from '../node-gpu.js';
import { diskFixture } from './fixtures.js';
import { checkFixture, formatFixture } from './parity-core.js';
import { readSafetensorsFloat32 } from '../../src/runtime/safetensors.js';

const FIXTURE = 'layernorm-f32';
// 'tiled' is made the slowest: any other version that agrees wins over it.
// The references (matmul 'naive', attention 'unfused') read fastest, so every tuned op records one.
const clock = (v: string) => (v === 'naive' || v === 'unfused' ? 1 : v === 'tiled' ? 10 : 2);

describe('tuned model', () => {
  const gpu = useGpu();
  const store = memoryTuningStore();

  it(`${FIXTURE} tuned to non-heuristic versions matches PyTorch within 5e-4 + 5e-4·|want|`, async () => {
    const results: TuneResult[] = [];
    const r = await checkFixture(gpu(), diskFixture('model', FIXTURE), { tune: { mode: 'fast', store, clock, onResult: (x) => results.push(x) } });
    console.log(formatFixture(r));
    expect(results.length).toBeGreaterThanOrEqual(4); // qkv, proj, fc1, fc2 (and the split check's batch, if any)
    // f32 weights: the references agree and "win".
    for (const t of results) expect(t.choice, `${t.kernel} ${t.key}`).toBe(t.kernel === 'attention' ? 'unfused' : 'naive');
    expect(results.some((t) => t.kernel === 'attention')).toBe(true);
    expect(r.problems).toEqual([]);
    for (const o of r.outputs) expect(o.ok, formatResult(o)).toBe(true);
  });

  it('a second load reads the cache (no timing) and describe() lists the tuned choices', async () => {
    const src = diskFixture('model', FIXTURE);
    const vit = await InternViT.load(src.checkpoint as string, { gpu: gpu(), tune: { store } });
    try {
      const pixels = readSafetensorsFloat32(await src.read('pixels.safetensors'), 'pixels').get('pixel_values')!;
      await vit.embedPixels(pixels.data, pixels.shape);
      expect(vit.tuning!.timed.size).toBe(0);
      const text = vit.describe();
      console.log(text);
      expect(text).toMatch(/kernel versions \(tune 'cache', cache memory: \d+ tuned op shapes for this adapter\), compiled plans:/);
      const lines = text.split('\n').filter((l) => l.startsWith('  matmul '));
      expect(lines.length).toBe(4);
      for (const l of lines) expect(l).toMatch(/: naive \(tuned: .*; heuristic (tiled|tile)\S* .*\)$/);
    } finally {
      vit.dispose();
    }
    const off = await InternViT.load(src.checkpoint as string, { gpu: gpu(), tune: 'off' });
    try {
      const text = off.describe();
      expect(text).toContain("kernel versions (tune 'off': the tables' heuristics, cache not read), a 1×3×28×28 forward:");
      const lines = text.split('\n').filter((l) => l.startsWith('  matmul '));
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(l).toMatch(/: (tiled|tile)\S* \(heuristic\)$/);
    } finally {
      off.dispose();
    }
  });
});
