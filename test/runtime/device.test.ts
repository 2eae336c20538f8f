// Device acquisition and device loss: after loss, pending and later calls reject; nothing hangs.
import { describe, expect, it } from 'vitest';
import {
  compilePlan, createPlan, DeviceLostError, describeGpu, destroyGpu, gelu, getGpu, input, output, readTensor, runPlan,
  uploadTensor,
} from '../../src/internal.js';
import { skipTest } from '../node-gpu.js';

describe('device', () => {
  it('reports the adapter and its optional features in one line', async () => {
    const gpu = await getGpu();
    const line = describeGpu(gpu);
    console.log(line);
    expect(line).toMatch(/^adapter: .+ \((software|hardware)\); features: /);
    expect(line.split('\n')).toHaveLength(1);
    if (gpu.features.timestamps) expect(line).toContain('timestamp-query');
    if (gpu.features.shaderF16) expect(line).toContain('shader-f16');
    if (gpu.features.subgroups) expect(line).toContain('subgroups');
    destroyGpu(gpu);
  });

  // CI sets INTERNVIT_REQUIRE_FEATURES (.ci/run: shader-f16,subgroups, which lavapipe from Mesa ≥ 25
  // has), so the f16 and subgroup checks run for real there instead of skipping for want of a feature.
  it('has every feature INTERNVIT_REQUIRE_FEATURES names', async (ctx) => {
    const required = (process.env.INTERNVIT_REQUIRE_FEATURES ?? '').split(',').map((f) => f.trim()).filter(Boolean);
    if (!required.length) skipTest(ctx, 'INTERNVIT_REQUIRE_FEATURES is not set (CI sets it)');
    const gpu = await getGpu();
    try {
      const line = describeGpu(gpu);
      console.log(line);
      const missing = required.filter((f) => !gpu.device.features.has(f));
      expect(missing, `${line}: missing ${missing.join(', ')} (without a GPU, node scripts/setup.mjs installs lavapipe from Mesa ≥ 25.0)`).toEqual([]);
    } finally {
      destroyGpu(gpu);
    }
  });

  it('rejects pending and later calls with DeviceLostError once the device is lost', async () => {
    const gpu = await getGpu();
    const plan = createPlan(gpu, 'lost');
    output(plan, 'y', gelu(plan, input(plan, 'x', [1 << 16])));
    const compiled = await compilePlan(plan);
    const t = uploadTensor(gpu, new Float32Array(8), [8]);
    const pending = runPlan(compiled, { x: new Float32Array(1 << 16) });
    destroyGpu(gpu);
    // The in-flight run either finished before the loss or rejects: it must settle, never hang.
    const settled = await Promise.race([
      pending.then(() => 'resolved', (e: Error) => e),
      new Promise((r) => setTimeout(() => r('hung'), 20_000)),
    ]);
    expect(settled).not.toBe('hung');
    if (settled instanceof Error) expect(settled).toBeInstanceOf(DeviceLostError);
    await gpu.lost;
    await expect(runPlan(compiled, { x: new Float32Array(1 << 16) })).rejects.toThrow(DeviceLostError);
    await expect(runPlan(compiled, { x: new Float32Array(1 << 16) })).rejects.toThrow(/WebGPU device lost/);
    await expect(readTensor(gpu, t)).rejects.toThrow(DeviceLostError);
    await expect(compilePlan(plan)).rejects.toThrow(DeviceLostError);
  });
});
