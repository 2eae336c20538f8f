// GPU errors are never swallowed: a validation error, an out-of-memory error and an error raised
// outside the runtime's scopes each reject a call with a typed error that names what failed, and the
// device stays usable for the next call. (Lavapipe allocates lazily and never reports out-of-memory
// by itself, so that error is injected at the error scope, the way the device would report it.)
import { describe, expect, it } from 'vitest';
import { InternViT } from '../../src/api.js';
import { gelu, geluReference } from '../../src/kernels/gelu.js';
import { destroyGpu, getGpu, type Gpu } from '../../src/runtime/device.js';
import { runPlan } from '../../src/runtime/executor.js';
import {
  captureErrors, GpuOutOfMemoryError, GpuValidationError, UncapturedGpuError,
} from '../../src/runtime/gpu-errors.js';
import { defineKernel } from '../../src/runtime/kernel.js';
import { compilePlan, createPlan, dispatch, disposePlan, input, intermediate, output, type CompiledPlan } from '../../src/runtime/plan.js';
import { disposeTensor, readTensor, uploadTensor } from '../../src/runtime/tensor.js';
import { injectOutOfMemory } from '../../src/runtime/gpu-errors.check.js';
import { compare, formatResult, randomArray } from '../../src/kernels/check-harness.js';
import { useGpu } from '../node-gpu.js';

const N = 1000;
const MODEL = 'test/fixtures/model/layernorm-f32';

async function geluPlan(gpu: Gpu, label = 'gelu plan'): Promise<CompiledPlan> {
  const plan = createPlan(gpu, label);
  output(plan, 'y', gelu(plan, input(plan, 'x', [N])));
  return compilePlan(plan);
}

/** The device still computes correctly: a fresh plan, compiled and run, matches the CPU reference. */
async function expectUsable(gpu: Gpu): Promise<void> {
  const compiled = await geluPlan(gpu, 'after the error');
  const x = randomArray(N, 7, -3, 3);
  const r = compare('gelu after the error', (await runPlan(compiled, { x })).y!, geluReference(x));
  expect(r.ok, formatResult(r)).toBe(true);
  disposePlan(compiled);
}

describe('GPU errors reject the call that caused them', () => {
  const gpu = useGpu();

  // A destroyed weight at submit: src/runtime/gpu-errors.check.ts (run in Node by test/kernels/gpu-errors.test.ts).

  it('a kernel whose pipeline cannot be created rejects compilePlan with GpuValidationError naming the kernel', async () => {
    const g = gpu();
    // An override used as the workgroup size, set to 0: WGSL compiles, the pipeline does not.
    const bad = defineKernel({
      name: 'bad_wg',
      source: `override WG: u32;
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) i: vec3<u32>) { y[i.x] = 1.0; }`,
    });
    const plan = createPlan(g, 'bad pipeline');
    const y = intermediate(plan, [4], 'f32', 'y');
    dispatch(plan, { kernel: bad, bindings: { y }, constants: { WG: 0 }, workgroups: [1] });
    output(plan, 'y', y);
    const live = g.counters.bytesLive;
    const err = await compilePlan(plan).catch((e: unknown) => e);
    console.log((err as Error).message);
    expect(err).toBeInstanceOf(GpuValidationError);
    expect((err as Error).message).toMatch(/^kernel 'bad_wg' with constants \{WG=0\}: GPU validation error while creating its compute pipeline: /);
    expect(g.counters.bytesLive).toBe(live); // the buffers made for the plan were destroyed again
    await expectUsable(g);
  });

  it('WGSL that does not compile rejects with the compiler message', async () => {
    const g = gpu();
    const broken = defineKernel({
      name: 'broken',
      source: `@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(1) fn main() { y[0] = undefined_name; }`,
    });
    const plan = createPlan(g, 'broken plan');
    const y = intermediate(plan, [4], 'f32', 'y');
    dispatch(plan, { kernel: broken, bindings: { y }, workgroups: [1] });
    output(plan, 'y', y);
    await expect(compilePlan(plan)).rejects.toThrow(/^kernel 'broken': GPU validation error while compiling its WGSL: error at 2:\d+: .*undefined_name.*fix the WGSL/);
  });

  it('out of GPU memory while compiling rejects with GpuOutOfMemoryError and advice; the device stays usable', async () => {
    const g = await getGpu();
    try {
      injectOutOfMemory(g, 'Failed to allocate memory for buffer (injected)');
      const live = g.counters.bytesLive;
      const err = await geluPlan(g, 'encoder B=12').catch((e: unknown) => e);
      console.log((err as Error).message);
      expect(err).toBeInstanceOf(GpuOutOfMemoryError);
      expect((err as Error).message).toBe(
        "compiling plan 'encoder B=12': out of GPU memory while creating 3 buffers (12.0 kB): Failed to allocate memory for buffer (injected). " +
        "Try weightStorage 'bf16' (or 'int8' / 'int4': a half / a third of that), a smaller batch or fewer tiles (maxTiles), or free GPU memory (dispose models and plans you no longer use).");
      expect(g.counters.bytesLive).toBe(live);
      await expectUsable(g);
    } finally {
      destroyGpu(g);
    }
  });

  it('out of GPU memory at submit rejects the run (no outputs returned); the next run works', async () => {
    const g = await getGpu();
    try {
      const compiled = await geluPlan(g, 'run oom');
      injectOutOfMemory(g, 'Out of memory during submit (injected)');
      const err = await runPlan(compiled, { x: new Float32Array(N) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GpuOutOfMemoryError);
      expect((err as Error).message).toMatch(/^running plan 'run oom': out of GPU memory while writing inputs, encoding and submitting: Out of memory during submit \(injected\)\. Try weightStorage 'bf16'/);
      const x = randomArray(N, 5, -3, 3);
      const r = compare('gelu after the failed run', (await runPlan(compiled, { x })).y!, geluReference(x));
      expect(r.ok, formatResult(r)).toBe(true);
      disposePlan(compiled);
    } finally {
      destroyGpu(g);
    }
  });

  it('out of GPU memory while uploading weights rejects InternViT.load, frees what it made, and a retry loads', async () => {
    const g = await getGpu();
    try {
      const live = g.counters.bytesLive;
      injectOutOfMemory(g, 'Failed to allocate memory for buffer (injected)');
      const err = await InternViT.load(MODEL, { gpu: g }).catch((e: unknown) => e);
      console.log((err as Error).message);
      expect(err).toBeInstanceOf(GpuOutOfMemoryError);
      expect((err as Error).message).toMatch(new RegExp(`^uploading the weights of .*${MODEL}: out of GPU memory while creating and writing '.+'.*Try weightStorage 'bf16'`));
      expect(g.counters.bytesLive).toBe(live);
      const model = await InternViT.load(MODEL, { gpu: g });
      expect(g.counters.bytesLive).toBeGreaterThan(live);
      model.dispose();
      expect(g.counters.bytesLive).toBe(live);
    } finally {
      destroyGpu(g);
    }
  });

  it('an allocation past the device limit under an error scope is a typed error, not a silent invalid buffer', async () => {
    const g = await getGpu({ limits: 'default' });
    try {
      const { value: buffer, errors } = captureErrors(g, { context: 'test', step: 'allocating 512 MiB' }, () =>
        g.device.createBuffer({ size: 512 * 2 ** 20, usage: GPUBufferUsage.STORAGE }));
      await expect(errors).rejects.toThrow(GpuValidationError);
      await expect(errors).rejects.toThrow(/^test: GPU validation error while allocating 512 MiB: .*max buffer size/i);
      buffer.destroy();
      await expectUsable(g);
    } finally {
      destroyGpu(g);
    }
  });

  it('an error raised outside any runtime call makes the next call fail, naming it; the one after works', async () => {
    const g = gpu();
    const compiled = await geluPlan(g, 'next call');
    // User code on the shared device makes an invalid buffer, outside any error scope.
    g.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE, label: 'bad user buffer' });
    await g.device.queue.onSubmittedWorkDone();
    for (let i = 0; i < 50 && !g.uncaptured; i++) await new Promise((r) => setTimeout(r, 10));
    expect(g.uncaptured?.kind).toBe('validation');
    const x = randomArray(N, 3, -3, 3);
    const err = await runPlan(compiled, { x }).catch((e: unknown) => e);
    console.log((err as Error).message);
    expect(err).toBeInstanceOf(UncapturedGpuError);
    expect((err as Error).message).toMatch(/^an earlier GPU validation error was reported outside any runtime call: /);
    expect((err as Error).message).toMatch(/MapRead/);
    const r = compare('gelu after the report', (await runPlan(compiled, { x })).y!, geluReference(x));
    expect(r.ok, formatResult(r)).toBe(true);
    disposePlan(compiled);
  });

  it('reading back a destroyed tensor rejects with GpuValidationError', async () => {
    const g = gpu();
    const t = uploadTensor(g, new Float32Array(8), [8], 'f32', 'gone');
    disposeTensor(g, t);
    await expect(readTensor(g, t)).rejects.toThrow(GpuValidationError);
    await expect(readTensor(g, t)).rejects.toThrow(/^reading tensor 'gone': GPU validation error while copying 32 bytes to a staging buffer/);
  });
});
