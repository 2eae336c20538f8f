// Device limits are checked when a plan is compiled: bindings, buffers, workgroup size and storage,
// storage buffers per stage. First against stand-in limit objects (no device), then on a real
// device opened with WebGPU's default limits, where the device itself confirms the reflection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attention, attentionTiling } from '../../src/kernels/attention.js';
import { gelu, geluReference } from '../../src/kernels/gelu.js';
import { layernorm } from '../../src/kernels/layernorm.js';
import { matmul } from '../../src/kernels/matmul.js';
import { patchEmbed } from '../../src/kernels/patch-embed.js';
import { softmax } from '../../src/kernels/softmax.js';
import { describeGpu, destroyGpu, getGpu, resolveLimitsMode, type Gpu } from '../../src/runtime/device.js';
import { GpuValidationError } from '../../src/runtime/gpu-errors.js';
import { defineKernel, getPipeline } from '../../src/runtime/kernel.js';
import { checkPlanLimits, LimitError, planLimitViolations, WEBGPU_DEFAULT_LIMITS, type LimitViolation } from '../../src/runtime/limits.js';
import { compilePlan, constant, createPlan, dispatch, disposePlan, input, intermediate, output, type DispatchOp, type Plan, type TensorRef } from '../../src/runtime/plan.js';
import { runPlan } from '../../src/runtime/executor.js';
import { disposeTensor, uploadTensor } from '../../src/runtime/tensor.js';
import { workgroupUsage } from '../../src/runtime/workgroup.js';
import { compare, formatResult, randomArray } from '../../src/kernels/check-harness.js';

// The spec's defaults, written out here (not imported) so the checks below test the code's table too.
const DEFAULTS = {
  maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 256 * 2 ** 20, minStorageBufferOffsetAlignment: 256,
  maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256, maxComputeWorkgroupSizeZ: 64, maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBuffersPerShaderStage: 8,
};
const fakePlan = (limits: Partial<GPUSupportedLimits> = {}): Plan =>
  createPlan({ limits: { ...DEFAULTS, ...limits } } as unknown as Gpu, 'fake');

/** A kernel with `var<workgroup>` sized by overrides: TILE·2 vec4 used, plus one never used. */
const tileKernel = defineKernel({
  name: 'tile_test',
  source: /* wgsl */ `
override TILE: u32;
override WG: u32 = 64u;
override SPARE: u32 = TILE * 4u;   // an override default that refers to another override
const PAD: u32 = 0x2u;
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
var<workgroup> tile: array<vec4<f32>, TILE * 2u>;
var<workgroup> extra: array<vec3<f32>, SPARE / 2u + PAD>;  // vec3: 16-byte stride
var<workgroup> unused: array<f32, 60000>;                  // never used: not counted (WebGPU neither)
fn stage(i: u32) { tile[i] = vec4<f32>(x[i]); extra[i].x = x[i]; }
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) i: u32) {
  stage(i);
  workgroupBarrier();
  y[i] = tile[(i + 1u) % WG].x + extra[i].y;
}`,
});

function recordTile(plan: Plan, constants: Record<string, number>, n = 256): TensorRef {
  const x = input(plan, 'x', [n]);
  const y = intermediate(plan, [n], 'f32', 'y');
  dispatch(plan, { kernel: tileKernel, label: 'tile op', bindings: { x, y }, constants, workgroups: [1] });
  return y;
}

describe('plan limits without a device', () => {
  it('names op, binding, bytes and limit for a binding over maxStorageBufferBindingSize', () => {
    const plan = fakePlan();
    output(plan, 'y', gelu(plan, input(plan, 'x', [32 * 2 ** 20 + 1]), 'big gelu'));
    const v = planLimitViolations(plan);
    expect(v).toContainEqual({ op: 'big gelu', binding: 'x', limit: 'maxStorageBufferBindingSize', bytes: 134217732, max: 134217728 });
    expect(v).toContainEqual({ op: 'big gelu', binding: 'y', limit: 'maxStorageBufferBindingSize', bytes: 134217732, max: 134217728 });
    expect(() => checkPlanLimits(plan)).toThrow(LimitError);
    expect(() => checkPlanLimits(plan)).toThrow(/fake: op 'big gelu', binding 'x' needs 134217732 bytes, over this device's maxStorageBufferBindingSize of 134217728 \(\+1 more\)/);
    // One element less fits exactly.
    const ok = fakePlan();
    output(ok, 'y', gelu(ok, input(ok, 'x', [32 * 2 ** 20])));
    expect(planLimitViolations(ok)).toEqual([]);
  });

  it('checks every buffer against maxBufferSize, counted as createBuffer rounds it (16 bytes)', () => {
    const plan = fakePlan({ maxBufferSize: 4000, maxStorageBufferBindingSize: 1 << 20 });
    output(plan, 'y', gelu(plan, input(plan, 'x', [999]))); // 3996 bytes → a 4000-byte buffer: fits
    expect(planLimitViolations(plan)).toEqual([]);
    const over = fakePlan({ maxBufferSize: 4000, maxStorageBufferBindingSize: 1 << 20 });
    output(over, 'y', gelu(over, input(over, 'x', [1001]), 'g')); // 4004 → 4016 bytes
    expect(planLimitViolations(over)).toEqual([
      { op: 'g', binding: 'x', limit: 'maxBufferSize', bytes: 4016, max: 4000 },
      { op: 'g', binding: 'g', limit: 'maxBufferSize', bytes: 4016, max: 4000 },
    ]);
  });

  it('reflects workgroup storage with override values, defaults and consts, counting only what the entry point uses', () => {
    const use = workgroupUsage(tileKernel.workgroup, { TILE: 100 })!;
    // tile: 200 vec4 = 3200 bytes; extra: (400/2 + 2) vec3 at a 16-byte stride = 3232 bytes.
    expect(use.vars).toEqual([{ name: 'tile', bytes: 3200 }, { name: 'extra', bytes: 3232 }]);
    expect(use.storageBytes).toBe(6432);
    expect(use.size).toEqual([64, 1, 1]);
    expect(workgroupUsage(tileKernel.workgroup, { TILE: 100, WG: 128, SPARE: 2 })).toMatchObject({ size: [128, 1, 1], storageBytes: 3200 + 3 * 16 });
    // An override with no value cannot be evaluated: left to pipeline creation, which reports it.
    expect(workgroupUsage(tileKernel.workgroup, {})).toBeNull();
  });

  it('names the workgroup variables when a kernel needs more than maxComputeWorkgroupStorageSize', () => {
    const plan = fakePlan();
    output(plan, 'y', recordTile(plan, { TILE: 400 })); // 12800 + (800 + 2)·16 = 25632 bytes
    const v = planLimitViolations(plan);
    expect(v).toEqual([{
      op: 'tile op', binding: "kernel 'tile_test' var<workgroup> tile (12800 bytes), extra (12832 bytes)",
      limit: 'maxComputeWorkgroupStorageSize', bytes: 25632, max: 16384,
    }]);
    expect(() => checkPlanLimits(plan)).toThrow(/op 'tile op', kernel 'tile_test' var<workgroup> tile \(12800 bytes\), extra \(12832 bytes\) needs 25632 bytes of workgroup storage, over this device's maxComputeWorkgroupStorageSize of 16384/);
    // The same kernel fits a device with 32 KiB (lavapipe, SwiftShader).
    const big = fakePlan({ maxComputeWorkgroupStorageSize: 32768 });
    output(big, 'y', recordTile(big, { TILE: 400 }));
    expect(planLimitViolations(big)).toEqual([]);
  });

  it('checks workgroup size per dimension and invocations', () => {
    const plan = fakePlan();
    output(plan, 'y', recordTile(plan, { TILE: 1, WG: 512 }));
    const v = planLimitViolations(plan).map((x: LimitViolation) => [x.limit, x.bytes, x.max]);
    expect(v).toEqual([['maxComputeWorkgroupSizeX', 512, 256], ['maxComputeInvocationsPerWorkgroup', 512, 256]]);
    expect(() => checkPlanLimits(plan)).toThrow(/kernel 'tile_test' @workgroup_size 512×1×1 is 512 invocations, over this device's maxComputeWorkgroupSizeX of 256/);
  });

  it('counts storage buffers per shader stage', () => {
    const names = Array.from({ length: 9 }, (_, i) => `b${i}`);
    const k = defineKernel({
      name: 'nine',
      source: names.map((n, i) => `@group(0) @binding(${i}) var<storage, ${i === 8 ? 'read_write' : 'read'}> ${n}: array<f32>;`).join('\n') +
        `\n@compute @workgroup_size(1) fn main() { b8[0] = ${names.slice(0, 8).map((n) => `${n}[0]`).join(' + ')}; }`,
    });
    const plan = fakePlan();
    const bindings = Object.fromEntries(names.map((n) => [n, n === 'b8' ? intermediate(plan, [4], 'f32', n) : input(plan, n, [4])]));
    dispatch(plan, { kernel: k, bindings, workgroups: [1] });
    output(plan, 'y', bindings.b8!);
    expect(planLimitViolations(plan)).toEqual([{ op: 'nine', binding: "kernel 'nine' bindings", limit: 'maxStorageBuffersPerShaderStage', bytes: 9, max: 8 }]);
  });

  it('checks binding offsets against minStorageBufferOffsetAlignment (a constant that is a view of a larger tensor)', () => {
    const whole = { buffer: {} as GPUBuffer, shape: [128], dtype: 'f32' as const, byteLength: 512, label: 'w' };
    const view = (byteOffset: number) => ({ ...whole, shape: [64], byteLength: 256, byteOffset, label: `w@${byteOffset}` });
    const record = (byteOffset: number) => {
      const plan = fakePlan();
      output(plan, 'y', gelu(plan, constant(plan, view(byteOffset)), 'gelu of a view'));
      return planLimitViolations(plan);
    };
    expect(record(0)).toEqual([]);
    expect(record(256)).toEqual([]);
    expect(record(128)).toEqual([{ op: 'gelu of a view', binding: 'x', limit: 'minStorageBufferOffsetAlignment', bytes: 128, max: 256 }]);
    const plan = fakePlan();
    output(plan, 'y', gelu(plan, constant(plan, view(128)), 'gelu of a view'));
    expect(() => checkPlanLimits(plan)).toThrow(/op 'gelu of a view', binding 'x' is bound at byte offset 128, not a multiple of this device's minStorageBufferOffsetAlignment of 256/);
  });

  it('every built-in kernel fits the WebGPU default limits, and the reflection agrees with the kernels\' own tile math', () => {
    expect(WEBGPU_DEFAULT_LIMITS).toEqual(DEFAULTS);
    const plan = fakePlan();
    const w = (name: string, shape: number[], dtype: 'f32' | 'bf16' = 'f32') => input(plan, name, shape, dtype);
    matmul(plan, w('x', [5, 64]), w('w', [128, 64]), w('b', [128]), { version: 'tiled' });
    // Every other matmul version too (split-K needs K ≥ 512), each checked by planLimitViolations below.
    for (const v of ['tiled64', 'tile32x128', 'tile32x64', 'tile128x128', 'splitk'] as const) {
      matmul(plan, w(`x ${v}`, [5, 512]), w(`w ${v}`, [128, 512]), null, { version: v, label: `matmul ${v}` });
    }
    matmul(plan, w('x2', [5, 19]), w('w2', [7, 19], 'bf16'), null, { version: 'tiled' });
    attention(plan, w('qkv64', [1, 17, 3 * 64]), { heads: 1, headDim: 64 });
    attention(plan, w('qkv128', [1, 5, 3 * 128]), { heads: 1, headDim: 128 });
    softmax(plan, w('s', [2, 1030]));
    layernorm(plan, w('ln', [2, 37]), w('lnw', [37]), w('lnb', [37]), 1e-6);
    patchEmbed(plan, w('pixels', [1, 3, 28, 28]), {
      patchWeight: w('pw', [16, 3, 14, 14]), patchBias: w('pb', [16]), classEmbedding: w('cls', [1, 1, 16]), positionEmbedding: w('pos', [1, 5, 16]),
    }, { patchSize: 14, imageSize: 28, hidden: 16 });
    const usage = new Map((plan.ops as DispatchOp[]).map((op) => [op.label, workgroupUsage(op.kernel.workgroup, op.constants)!]));
    for (const [label, u] of usage) {
      console.log(`${label.padEnd(12)} workgroup ${u.size.join('×')}, ${u.storageBytes} bytes of workgroup storage (${u.vars.map((v) => v.name).join(', ') || 'none'})`);
    }
    expect(planLimitViolations(plan)).toEqual([]);
    // matmul: As 16·17 vec4 + Bs 16·33 vec4 (shaders/matmul.wgsl header: 12.5 KiB).
    expect(usage.get('matmul')).toMatchObject({ size: [256, 1, 1], storageBytes: 12800 });
    // attention: what attentionTiling budgets for, per head size.
    expect(usage.get('attention')!.storageBytes).toBe(attentionTiling(64, DEFAULTS).workgroupBytes);
    const ops = plan.ops as DispatchOp[];
    const att128 = ops.filter((op) => op.label === 'attention')[1]!;
    expect(workgroupUsage(att128.kernel.workgroup, att128.constants)!.storageBytes).toBe(attentionTiling(128, DEFAULTS).workgroupBytes);
    expect(usage.get('softmax')).toMatchObject({ size: [256, 1, 1], storageBytes: 2048 });
    expect(usage.get('layernorm')).toMatchObject({ storageBytes: 1024 });
    expect(usage.get('patch_embed')).toMatchObject({ size: [16, 16, 1], storageBytes: 2 * 16 * 17 * 16 });
  });
});

describe("plan limits on a device opened with limits: 'default'", () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await getGpu({ limits: 'default' });
    console.log(describeGpu(gpu));
  });
  afterAll(() => gpu && destroyGpu(gpu));

  it('has the WebGPU default limits, whatever the adapter offers', () => {
    expect(gpu.limitsMode).toBe('default');
    expect(gpu.limits.maxStorageBufferBindingSize).toBe(128 * 2 ** 20);
    expect(gpu.limits.maxBufferSize).toBe(256 * 2 ** 20);
    expect(gpu.limits.maxComputeWorkgroupStorageSize).toBe(16384);
    expect(gpu.limits.maxComputeInvocationsPerWorkgroup).toBe(256);
    expect(describeGpu(gpu)).toMatch(/; limits: default \(bindings 128 MiB, buffers 256 MiB\)$/);
  });

  it('throws LimitError at compile for a binding over the limit, before allocating anything', async () => {
    const plan = createPlan(gpu, 'too big');
    output(plan, 'y', gelu(plan, input(plan, 'x', [32 * 2 ** 20 + 4]), 'gelu fc1'));
    const before = { ...gpu.counters };
    const err = await compilePlan(plan).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitError);
    expect((err as Error).message).toMatch(/^too big: op 'gelu fc1', binding 'x' needs 134217744 bytes, over this device's maxStorageBufferBindingSize of 134217728/);
    expect(gpu.counters.buffersCreated).toBe(before.buffersCreated);
  });

  it('agrees with the device on workgroup storage: 16384 bytes compile and run, 16400 are refused (by us and by the device)', async () => {
    // TILE 100: tile 3200 bytes + extra (200 + 2)·16 = 3232 bytes. It compiles and computes.
    const fits = createPlan(gpu, 'fits');
    output(fits, 'y', recordTile(fits, { TILE: 100 }));
    const compiled = await compilePlan(fits);
    const x = new Float32Array(256).map((_, i) => i + 1);
    const y = (await runPlan(compiled, { x })).y!;
    // y[i] = tile[(i + 1) % 64].x + extra[i].y (never written: workgroup memory starts at zero).
    expect(Array.from(y.subarray(0, 64))).toEqual(Array.from({ length: 64 }, (_, i) => x[(i + 1) % 64]));
    disposePlan(compiled);

    // Exactly 16384: TILE 256 → tile 8192 bytes; SPARE 1020 → extra (510 + 2)·16 = 8192 bytes.
    const exact = createPlan(gpu, 'exact');
    output(exact, 'y', recordTile(exact, { TILE: 256, SPARE: 1020 }));
    expect(planLimitViolations(exact)).toEqual([]);
    disposePlan(await compilePlan(exact));

    // One vec3 more: 16400 bytes. Our check refuses it at compile...
    const over = createPlan(gpu, 'over');
    output(over, 'y', recordTile(over, { TILE: 256, SPARE: 1022 }));
    await expect(compilePlan(over)).rejects.toThrow(/over: op 'tile op', kernel 'tile_test' var<workgroup> tile \(8192 bytes\), extra \(8208 bytes\) needs 16400 bytes of workgroup storage, over this device's maxComputeWorkgroupStorageSize of 16384/);
    // ...and the device agrees: creating the pipeline anyway is a validation error.
    await expect(getPipeline(gpu, tileKernel, { TILE: 256, SPARE: 1022 })).rejects.toThrow(GpuValidationError);
  });

  it('binds a constant view at its offset (aligned: right elements; unaligned: LimitError at compile)', async () => {
    const data = randomArray(128, 11, -3, 3);
    const whole = uploadTensor(gpu, data, [128], 'f32', 'whole');
    try {
      const plan = createPlan(gpu, 'view');
      output(plan, 'y', gelu(plan, constant(plan, { ...whole, shape: [64], byteLength: 256, byteOffset: 256, label: 'whole[64:128]' })));
      const compiled = await compilePlan(plan);
      const r = compare('gelu of whole[64:128]', (await runPlan(compiled, {})).y!, geluReference(data.subarray(64)));
      expect(r.ok, formatResult(r)).toBe(true);
      disposePlan(compiled);
      const bad = createPlan(gpu, 'unaligned view');
      output(bad, 'y', gelu(bad, constant(bad, { ...whole, shape: [32], byteLength: 128, byteOffset: 128, label: 'whole[32:64]' })));
      await expect(compilePlan(bad)).rejects.toThrow(/unaligned view: op 'gelu', binding 'x' is bound at byte offset 128, not a multiple of this device's minStorageBufferOffsetAlignment of 256/);
    } finally {
      disposeTensor(gpu, whole);
    }
  });

  it('INTERNVIT_LIMITS sets the default mode; a bad value is a clear error', async () => {
    const saved = process.env.INTERNVIT_LIMITS;
    try {
      process.env.INTERNVIT_LIMITS = 'default';
      expect(resolveLimitsMode()).toBe('default');
      expect(resolveLimitsMode('adapter')).toBe('adapter'); // the option wins over the env
      const viaEnv = await getGpu();
      expect(viaEnv.limitsMode).toBe('default');
      expect(viaEnv.limits.maxBufferSize).toBe(256 * 2 ** 20);
      destroyGpu(viaEnv);
      process.env.INTERNVIT_LIMITS = 'huge';
      expect(() => resolveLimitsMode()).toThrow("INTERNVIT_LIMITS must be 'default' or 'adapter' (got 'huge')");
      await expect(getGpu()).rejects.toThrow(/INTERNVIT_LIMITS must be 'default' or 'adapter' \(got 'huge'\)/);
      await expect(getGpu({ limits: 'max' as 'default' })).rejects.toThrow(/limits option must be 'default' or 'adapter' \(got 'max'\)/);
    } finally {
      if (saved === undefined) delete process.env.INTERNVIT_LIMITS;
      else process.env.INTERNVIT_LIMITS = saved;
    }
  });
});
