// Plans: one submit per run, no allocation after compile, liveness-based buffer reuse, profiling.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../node-gpu.js';
import { compare, randomArray } from '../../src/kernels/check-harness.js';
import {
  compilePlan, copy, createPlan, disposePlan, formatProfile, gelu, geluReference, input, intermediate, output,
  outputTensor, readTensor, runPlan, type Gpu,
} from '../../src/internal.js';

function chain(gpu: Gpu, n: number, depth: number) {
  const plan = createPlan(gpu, 'chain');
  let t = input(plan, 'x', [n]);
  for (let i = 0; i < depth; i++) t = gelu(plan, t, `gelu${i}`);
  output(plan, 'y', t);
  return plan;
}

function geluChainReference(x: Float32Array, depth: number): Float64Array {
  let v: ArrayLike<number> = x;
  for (let i = 0; i < depth; i++) v = geluReference(v);
  return v as Float64Array;
}

describe('plan execution', () => {
  const gpu = useGpu();

  it('runs twice with one submit per run and no buffers or pipelines created after compile', async () => {
    const g = gpu();
    const plan = chain(g, 1000, 6);
    const compiled = await compilePlan(plan);
    const before = { ...g.counters };
    const x1 = randomArray(1000, 7, -2, 2);
    const x2 = randomArray(1000, 8, -2, 2);
    const y1 = await runPlan(compiled, { x: x1 });
    const afterOne = { ...g.counters };
    const y2 = await runPlan(compiled, { x: x2 });
    const after = { ...g.counters };
    console.log('counters after compile', before, 'after two runs', after);
    expect(afterOne.submits - before.submits).toBe(1);
    expect(after.submits - before.submits).toBe(2);
    expect(after.buffersCreated).toBe(before.buffersCreated);
    expect(after.bytesAllocated).toBe(before.bytesAllocated);
    expect(after.pipelinesCreated).toBe(before.pipelinesCreated);
    expect(after.bindGroupsCreated).toBe(before.bindGroupsCreated);
    expect(compare('run 1', y1.y as Float32Array, geluChainReference(x1, 6)).ok).toBe(true);
    expect(compare('run 2', y2.y as Float32Array, geluChainReference(x2, 6)).ok).toBe(true);
    disposePlan(compiled);
  });

  it('reuses intermediate memory by liveness: a chain of 8 ops needs 2 pooled slots', async () => {
    const g = gpu();
    const compiled = await compilePlan(chain(g, 4096, 8));
    // 7 pooled intermediates (the 8th is the output); a chain only ever has two alive.
    expect(compiled.pool.slots).toBe(2);
    expect(compiled.pool.bytes).toBe(2 * 4096 * 4);
    expect(compiled.pool.naiveBytes).toBe(7 * 4096 * 4);
    disposePlan(compiled);
  });

  it('gives a tensor that is still needed its own slot (no aliasing of live tensors)', async () => {
    const g = gpu();
    const plan = createPlan(g, 'fan');
    const x = input(plan, 'x', [300]);
    const a = gelu(plan, x, 'a');
    const b = gelu(plan, a, 'b');
    const c = gelu(plan, b, 'c');
    // `a` is read again at the end, so b and c must not take its slot.
    const out = intermediate(plan, [600], 'f32', 'out');
    copy(plan, a, out, { dstOffset: 0 });
    copy(plan, c, out, { dstOffset: 300 * 4 });
    output(plan, 'out', out);
    const compiled = await compilePlan(plan);
    const xs = randomArray(300, 3, -2, 2);
    const y = (await runPlan(compiled, { x: xs })).out as Float32Array;
    const ra = geluReference(xs);
    const rc = geluReference(geluReference(ra));
    expect(compare('a', y.subarray(0, 300), ra).ok).toBe(true);
    expect(compare('c', y.subarray(300), rc).ok).toBe(true);
    disposePlan(compiled);
  });

  it('accepts GPU tensors as inputs and can leave outputs on the GPU', async () => {
    const g = gpu();
    const first = await compilePlan(chain(g, 256, 1));
    const second = await compilePlan(chain(g, 256, 1));
    const x = randomArray(256, 11, -2, 2);
    await runPlan(first, { x }, { read: [] });
    const onGpu = outputTensor(first, 'y');
    const y = (await runPlan(second, { x: onGpu })).y as Float32Array;
    expect(compare('gelu∘gelu', y, geluChainReference(x, 2)).ok).toBe(true);
    expect(compare('left on GPU', (await readTensor(g, onGpu)) as Float32Array, geluReference(x)).ok).toBe(true);
    disposePlan(first);
    disposePlan(second);
  });

  it('rejects missing, unknown and misshapen inputs with the name and shapes', async () => {
    const g = gpu();
    const compiled = await compilePlan(chain(g, 10, 1));
    await expect(runPlan(compiled, {})).rejects.toThrow(/missing input 'x' \[10\] f32/);
    await expect(runPlan(compiled, { x: new Float32Array(9) })).rejects.toThrow(/input 'x' expects \[10\] f32.*got Float32Array of 9/);
    await expect(runPlan(compiled, { x: new Float32Array(10), z: new Float32Array(1) })).rejects.toThrow(/unknown input 'z'/);
    // The plan still works after rejected runs.
    const ok = await runPlan(compiled, { x: new Float32Array(10) });
    expect(Array.from(ok.y as Float32Array)).toEqual(new Array(10).fill(0));
    disposePlan(compiled);
    await expect(runPlan(compiled, { x: new Float32Array(10) })).rejects.toThrow(/disposed/);
  });

  it('dispose frees every buffer the plan made', async () => {
    const g = gpu();
    const live = g.counters.bytesLive;
    const compiled = await compilePlan(chain(g, 2048, 4));
    expect(g.counters.bytesLive).toBeGreaterThan(live);
    disposePlan(compiled);
    expect(g.counters.bytesLive).toBe(live);
  });

  it('profiles GPU time per op with timestamp queries, or says it cannot', async (ctx) => {
    const g = gpu();
    if (!g.features.timestamps) {
      await expect(compilePlan(chain(g, 64, 2), { profile: true })).rejects.toThrow(/cannot profile.*timestamp-query/);
      ctx.skip('adapter has no timestamp-query: checked the refusal instead');
    }
    const compiled = await compilePlan(chain(g, 4096, 3), { profile: true });
    await runPlan(compiled, { x: randomArray(4096, 5) });
    const prof = compiled.lastProfile!;
    expect(prof.map((p) => p.label)).toEqual(['gelu0', 'gelu1', 'gelu2']);
    for (const p of prof) expect(p.ms).toBeGreaterThanOrEqual(0);
    console.log(formatProfile(prof));
    disposePlan(compiled);
  });

  it('refuses to profile without timestamp-query, with a message that says so', async () => {
    const g = gpu();
    const noTimestamps: Gpu = { ...g, features: { ...g.features, timestamps: false } };
    await expect(compilePlan(chain(noTimestamps, 64, 1), { profile: true })).rejects.toThrow(/cannot profile: this adapter has no 'timestamp-query'/);
  });
});
