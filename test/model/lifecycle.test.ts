// Memory over time and concurrency through the public API: 50 image sizes under small plan-cache
// budgets keep live GPU bytes under weights + budgets; dispose() gives every byte back; concurrent
// embeds equal serial ones bit for bit, even when the caches are too small to keep their plans;
// keepOnGpu results survive eviction until the next call of their shape or release().
// One device and one encoder shape (1×3×28×28) for the whole file: pipelines compile once.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../node-gpu.js';
import { randomImage } from '../../src/kernels/resize.check.js';
import { InternViT, readTensor, type DecodedImage, type EmbedOptions, type EmbedResult } from '../../src/internal.js';

const FIXTURE = 'test/fixtures/model/ragged-47x61'; // 2 layers, hidden 32, bf16
const EMBED: EmbedOptions = { preprocess: 'none', size: 28 };
// Hidden-state selections: different plans of one shape that share every pipeline.
const HIDDEN: EmbedOptions['hiddenStates'][] = [undefined, [0], [1], [2], [0, 1], [0, 2], [1, 2], true];

const image = (w: number, h: number, seed = w * 1000 + h): DecodedImage => ({ data: randomImage(w, h, seed), width: w, height: h, name: `noise ${w}×${h}` });
const bits = (r: EmbedResult) => [r.lastHiddenState, r.poolerOutput, ...(r.hiddenStates ?? [])].map((o) => Array.from(new Uint32Array(o.data.buffer, o.data.byteOffset, o.data.length)));

describe('model lifecycle', () => {
  const gpu = useGpu();

  it('50 image sizes: live GPU bytes stay under weights + cache budgets; dispose() returns every byte', async () => {
    const g = gpu();
    const before = g.counters.bytesLive;
    const planCacheBytes = 40_000;
    const preprocessCacheBytes = 200_000;
    const model = await InternViT.load(FIXTURE, { gpu: g, planCacheBytes, preprocessCacheBytes });
    const { weightBytes } = model.memory();
    expect(g.counters.bytesLive - before).toBe(weightBytes);
    const bound = weightBytes + planCacheBytes + preprocessCacheBytes;
    let peak = 0;
    let largest = { plan: 0, preprocess: 0 };
    const first = await model.embed(image(20, 20), EMBED);
    for (let i = 0; i < 50; i++) {
      const w = 20 + ((i * 7) % 61);
      const h = 20 + i;
      const out = await model.embed(image(w, h), { ...EMBED, hiddenStates: HIDDEN[i % HIDDEN.length] });
      expect(out.lastHiddenState.shape).toEqual([1, 5, 32]);
      const m = model.memory();
      largest = { plan: Math.max(largest.plan, m.planBytes / Math.max(1, m.plans)), preprocess: Math.max(largest.preprocess, m.preprocessBytes / Math.max(1, m.preprocessPlans)) };
      peak = Math.max(peak, g.counters.bytesLive - before);
      expect(m.planBytes).toBeLessThanOrEqual(planCacheBytes);
      expect(m.preprocessBytes).toBeLessThanOrEqual(preprocessCacheBytes);
      expect(g.counters.bytesLive - before).toBeLessThanOrEqual(bound);
    }
    const m = model.memory();
    console.log(`weights ${weightBytes} B, budgets ${planCacheBytes} + ${preprocessCacheBytes} B; peak live ${peak} B above the start; ` +
      `cached at the end: ${m.plans} of 8 encoder plans (${m.planBytes} B), ${m.preprocessPlans} of 51 preprocessing plans (${m.preprocessBytes} B); ` +
      `largest plans ≈ ${largest.plan.toFixed(0)} B / ${largest.preprocess.toFixed(0)} B`);
    // The budgets bite (plans were evicted) and are not degenerate (several plans fit in each).
    expect(m.plans).toBeLessThan(HIDDEN.length);
    expect(m.preprocessPlans).toBeLessThan(51);
    expect(m.plans).toBeGreaterThan(1);
    expect(m.preprocessPlans).toBeGreaterThan(1);
    // A plan compiled again after its eviction gives the same bits.
    expect(bits(await model.embed(image(20, 20), EMBED))).toEqual(bits(first));
    model.dispose();
    expect(g.counters.bytesLive).toBe(before);
    await expect(model.embed(image(20, 20), EMBED)).rejects.toThrow(/disposed/);
  });

  it('16 concurrent embeds of mixed sizes equal serial ones bit for bit, also with caches too small to keep their plans', async () => {
    const g = gpu();
    const before = g.counters.bytesLive;
    // 16 calls: 10 image sizes (some repeated: the same preprocessing plan twice at once), 4 hidden-state selections.
    const calls = Array.from({ length: 16 }, (_, i) => ({ img: image(24 + (i % 10) * 9, 70 - (i % 10) * 4), opts: { ...EMBED, hiddenStates: HIDDEN[i % 4] } }));
    const serialModel = await InternViT.load(FIXTURE, { gpu: g });
    const serial: EmbedResult[] = [];
    for (const c of calls) serial.push(await serialModel.embed(c.img, c.opts));
    const compiledSerial = serialModel.memory();
    serialModel.dispose();

    for (const budget of [undefined, 0]) {
      const model = await InternViT.load(FIXTURE, { gpu: g, planCacheBytes: budget, preprocessCacheBytes: budget });
      const pipelines = g.counters.pipelinesCreated;
      const concurrent = await Promise.all(calls.map((c) => model.embed(c.img, c.opts)));
      concurrent.forEach((r, i) => expect(bits(r), `call ${i} (budget ${budget ?? 'default'})`).toEqual(bits(serial[i]!)));
      const m = model.memory();
      // Each plan compiled once (default budget: all kept, no duplicates); pipelines were all made before.
      if (budget === undefined) expect([m.plans, m.preprocessPlans]).toEqual([compiledSerial.plans, compiledSerial.preprocessPlans]);
      else expect([m.plans, m.preprocessPlans]).toEqual([1, 1]);
      expect(g.counters.pipelinesCreated).toBe(pipelines);
      model.dispose();
      expect(g.counters.bytesLive).toBe(before);
    }
  });

  it('keepOnGpu tensors survive eviction until the next call of their shape or release()', async () => {
    const g = gpu();
    const model = await InternViT.load(FIXTURE, { gpu: g, planCacheBytes: 0 });
    const img = image(33, 44);
    const want = await model.embed(img, { ...EMBED, hiddenStates: [1] });
    const kept = await model.embed(img, { ...EMBED, keepOnGpu: true });
    expect(kept.lastHiddenState.data.length).toBe(0);
    for (const h of HIDDEN.slice(1, 4)) await model.embed(image(40, 30), { ...EMBED, hiddenStates: h });
    // Budget 0 keeps only the most recent plan, plus the held one.
    expect(model.memory().plans).toBe(2);
    const onGpu = await readTensor(g, kept.gpu!.lastHiddenState);
    expect(Array.from(onGpu)).toEqual(Array.from(want.lastHiddenState.data));
    const live = g.counters.bytesLive;
    kept.gpu!.release();
    expect(model.memory().plans).toBe(1);
    expect(g.counters.bytesLive).toBeLessThan(live);
    model.dispose();
  });
});
