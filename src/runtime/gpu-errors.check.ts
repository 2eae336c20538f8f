// GPU errors reach the caller as typed errors, in every environment the kernel checks run in (Node,
// headless Chromium, `internvit selfcheck`): a validation error at submit, an out-of-memory error at
// compile (injected at the error scope: software adapters never report one by themselves) and an
// error raised outside any runtime call. Each check opens its own device, so the errors it provokes
// never reach the other checks, and ends by proving that device still computes correctly.
import { gelu, geluReference } from '../kernels/gelu.js';
import { destroyGpu, getGpu, type Gpu } from './device.js';
import { runPlan } from './executor.js';
import { GpuOutOfMemoryError, GpuValidationError, UncapturedGpuError } from './gpu-errors.js';
import { defineKernel } from './kernel.js';
import { compilePlan, constant, createPlan, dispatch, disposePlan, input, intermediate, output, type CompiledPlan } from './plan.js';
import { disposeTensor, uploadTensor } from './tensor.js';
import { compare, randomArray, type CheckResult, type KernelCheck } from '../kernels/check-harness.js';

const N = 1000;

async function geluPlan(gpu: Gpu, label: string): Promise<CompiledPlan> {
  const plan = createPlan(gpu, label);
  output(plan, 'y', gelu(plan, input(plan, 'x', [N])));
  return compilePlan(plan);
}

/** The device still computes correctly after the error: a fresh plan matches the CPU reference. */
async function usableAfter(gpu: Gpu, name: string): Promise<CheckResult> {
  const compiled = await geluPlan(gpu, 'after the error');
  const x = randomArray(N, 7, -3, 3);
  const r = compare(name, (await runPlan(compiled, { x })).y!, geluReference(x));
  disposePlan(compiled);
  return r;
}

/** Throws unless `err` is an instance of `type` whose message matches `pattern`. */
function expectError(err: unknown, type: new (...a: never[]) => Error, pattern: RegExp): void {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : `no error (${String(err)})`;
  if (!(err instanceof type) || !pattern.test(err.message)) {
    throw new Error(`expected ${type.name} matching ${pattern}, got ${text}`);
  }
}

/** Makes the device report an out-of-memory error from the next out-of-memory scope popped. */
export function injectOutOfMemory(gpu: Gpu, message: string): void {
  const device = gpu.device;
  const push = device.pushErrorScope.bind(device);
  const pop = device.popErrorScope.bind(device);
  const filters: GPUErrorFilter[] = [];
  let armed = true;
  device.pushErrorScope = (filter: GPUErrorFilter) => {
    filters.push(filter);
    push(filter);
  };
  device.popErrorScope = async () => {
    const filter = filters.pop();
    const real = await pop();
    if (armed && filter === 'out-of-memory') {
      armed = false;
      return new GPUOutOfMemoryError(message);
    }
    return real;
  };
}

/** Runs `body` on a device of its own (same limits mode as the suite's), destroyed afterwards. */
function onOwnDevice(name: string, body: (gpu: Gpu) => Promise<void>): KernelCheck {
  return {
    name,
    async run(shared) {
      const gpu = await getGpu({ limits: shared.limitsMode });
      try {
        await body(gpu);
        return await usableAfter(gpu, name);
      } finally {
        destroyGpu(gpu);
      }
    },
  };
}

export const checks: KernelCheck[] = [
  onOwnDevice('gpu errors: a run binding a destroyed weight rejects with GpuValidationError, never zeros', async (gpu) => {
    const w = uploadTensor(gpu, new Float32Array(64).fill(1), [64], 'f32', 'weight w');
    const plan = createPlan(gpu, 'uses w');
    const add = defineKernel({
      name: 'add_w',
      source: `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) i: vec3<u32>) { y[i.x] = x[i.x] + w[i.x]; }`,
    });
    const y = intermediate(plan, [64], 'f32', 'y');
    dispatch(plan, { kernel: add, bindings: { x: input(plan, 'x', [64]), w: constant(plan, w), y }, workgroups: [1] });
    output(plan, 'y', y);
    const compiled = await compilePlan(plan);
    disposeTensor(gpu, w);
    const err = await runPlan(compiled, { x: new Float32Array(64).fill(1) }).catch((e: unknown) => e);
    disposePlan(compiled);
    expectError(err, GpuValidationError, /^running plan 'uses w': GPU validation error while writing inputs, encoding and submitting: .*may have been disposed/s);
  }),
  onOwnDevice('gpu errors: out of memory while compiling rejects with GpuOutOfMemoryError and advice', async (gpu) => {
    injectOutOfMemory(gpu, 'Failed to allocate memory for buffer (injected)');
    const live = gpu.counters.bytesLive;
    const err = await geluPlan(gpu, 'encoder B=12').catch((e: unknown) => e);
    expectError(err, GpuOutOfMemoryError, /^compiling plan 'encoder B=12': out of GPU memory while creating 3 buffers .*\(injected\)\. Try weightStorage 'bf16'/);
    if (gpu.counters.bytesLive !== live) throw new Error(`the failed compile left ${gpu.counters.bytesLive - live} bytes live`);
  }),
  onOwnDevice('gpu errors: an error outside any runtime call fails the next call with UncapturedGpuError', async (gpu) => {
    const compiled = await geluPlan(gpu, 'next call');
    // User code on the device makes an invalid buffer, outside any error scope.
    gpu.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE, label: 'bad user buffer' });
    await gpu.device.queue.onSubmittedWorkDone();
    for (let i = 0; i < 100 && !gpu.uncaptured; i++) await new Promise((r) => setTimeout(r, 10));
    const err = await runPlan(compiled, { x: new Float32Array(N) }).catch((e: unknown) => e);
    disposePlan(compiled);
    expectError(err, UncapturedGpuError, /^an earlier GPU validation error was reported outside any runtime call: /);
  }),
];
