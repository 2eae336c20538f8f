// Bring your own device and GPU in/out in Node: the app creates its Dawn device itself (as an app
// would: create([]) from the 'webgpu' package, its own requestDevice), the model runs on it. The
// checks are shared with the browser (test/model/gpu-io-core.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceLostError } from '../../src/runtime/device.js';
import { InternViT } from '../../src/api.js';
import { diskFixture } from './fixtures.js';
import { checkByoDevice, checkGpuInOut } from './gpu-io-core.js';

interface Dawn { create(flags: string[]): GPU; globals: Record<string, unknown> }

/** The app's own device, made without the runtime (keep `gpu` referenced: Dawn needs it alive). */
async function appDevice(dawn: Dawn, keep: unknown[], features: GPUFeatureName[] = []): Promise<GPUDevice> {
  const gpu = dawn.create([]);
  keep.push(gpu);
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('the app could not get an adapter from Dawn');
  return adapter.requestDevice({ requiredFeatures: features.filter((f) => adapter.features.has(f)), label: 'app device' });
}

describe('bring your own GPUDevice, GPU buffers in and out (Node, Dawn)', () => {
  const keep: unknown[] = [];
  const devices: GPUDevice[] = [];
  let dawn: Dawn;
  const src = diskFixture('model', 'ragged-47x61');

  beforeAll(async () => {
    dawn = (await import('webgpu')) as unknown as Dawn;
    for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  });
  afterAll(() => {
    for (const d of devices) d.destroy();
  });
  const newDevice = async (features?: GPUFeatureName[]) => {
    const d = await appDevice(dawn, keep, features);
    devices.push(d);
    return d;
  };

  it('runs on the app\'s device: fixture parity, same bits via load({ device }), dispose() leaves the device usable', async () => {
    const device = await newDevice();
    const r = await checkByoDevice(device, src);
    console.log(r.lines.join('\n'));
    expect(r.problems).toEqual([]);
  }, 120_000);

  it('GPUBuffer in → caller-owned GPU buffers out equals host in/out bit for bit; bad buffers are clear errors', async () => {
    const device = await newDevice();
    const other = await newDevice();
    const r = await checkGpuInOut(device, src, other);
    console.log(r.lines.join('\n'));
    expect(r.problems).toEqual([]);
  }, 120_000);

  it('app device lost: calls reject with DeviceLostError naming recover(device); recover(newDevice) gives the same outputs', async () => {
    const device = await newDevice(['shader-f16']);
    const model = await InternViT.load(src.checkpoint, { device });
    const px = new Float32Array(3 * 47 * 61).map((_, i) => Math.sin(i));
    const before = await model.embedPixels(px, [1, 3, 47, 61]);
    device.destroy();
    await device.lost;
    const err = await model.embedPixels(px, [1, 3, 47, 61]).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceLostError);
    expect((err as Error).message).toMatch(/model\.recover\(device\) with a new GPUDevice/);
    await expect(model.recover()).rejects.toThrow(/pass a new one: model\.recover\(newDevice\)/);
    await expect(model.recover(device)).rejects.toThrow(/lost/);
    const fresh = await newDevice();
    await model.recover(fresh);
    expect(model.device).toBe(fresh);
    const after = await model.embedPixels(px, [1, 3, 47, 61]);
    expect(Array.from(after.lastHiddenState.data)).toEqual(Array.from(before.lastHiddenState.data));
    model.dispose();
    expect(() => fresh.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST })).not.toThrow();
  }, 120_000);

  it('refuses a non-device and the limits option with { device }', async () => {
    await expect(InternViT.load(src.checkpoint, { device: {} as GPUDevice })).rejects.toThrow(/device must be a GPUDevice/);
    const device = await newDevice();
    await expect(InternViT.load(src.checkpoint, { device, limits: 'default' })).rejects.toThrow(/limits cannot be chosen for the app's device/);
  });
});
