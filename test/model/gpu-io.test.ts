// Bring your own device and GPU in/out in Node: the app creates its Dawn device itself (as an app
// would: create([]) from the 'webgpu' package, its own requestDevice), the model runs on it. The
// checks are shared with the browser (test/model/gpu-io-core.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { DeviceLostError, gpuFromDevice } from '../../src/runtime/device.js';
import { InternViT } from '../../src/api.js';
import { disposeEncoder, encode, encoderFromWeights, loadEncoder, recordForward } from '../../src/model/internvit.js';
import { readSafetensorsFloat32 } from '../../src/runtime/safetensors.js';
import { diskFixture } from './fixtures.js';
import { appRead, checkByoDevice, checkGpuInOut } from './gpu-io-core.js';
import { largestBinding, withLimits } from './lowered-limits.js';

interface Dawn { create(flags: string[]): GPU; globals: Record<string, unknown> }

/** The app's own device, made without the runtime (keep `gpu` referenced: Dawn needs it alive). */
async function appDevice(dawn: Dawn, keep: unknown[], features: GPUFeatureName[] = [], label = 'app device'): Promise<GPUDevice> {
  const gpu = dawn.create([]);
  keep.push(gpu);
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('the app could not get an adapter from Dawn');
  return adapter.requestDevice({ requiredFeatures: features.filter((f) => adapter.features.has(f)), label });
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
  const newDevice = async (features?: GPUFeatureName[], label?: string) => {
    const d = await appDevice(dawn, keep, features, label);
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
    const other = await newDevice([], 'another app device');
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

  it("output 'gpu' of a batch split into passes: each pass lands at its offset, equal to one host pass bit for bit", async () => {
    const device = await newDevice();
    const gpu = gpuFromDevice(device);
    const dir = 'test/fixtures/model/batch3-42x56';
    const px = readSafetensorsFloat32(await readFile(`${dir}/pixels.safetensors`)).get('pixel_values')!;
    const { encoder } = await loadEncoder(gpu, dir);
    try {
      const host = await encode(encoder, px.data, px.shape, { hiddenStates: [1] });
      // A binding limit at which one image fits and three do not: the batch runs as 2 + 1 passes.
      const lowered = withLimits(gpu, { maxStorageBufferBindingSize: largestBinding(recordForward(encoder, [1, ...px.shape.slice(1)], [])) }, { shareCache: true });
      const view = encoderFromWeights(lowered, encoder.config, encoder.weights);
      const split = await encode(view, px.data, px.shape, { hiddenStates: [1], output: 'gpu' });
      view.plans.clear();
      expect(split.microBatches.length).toBeGreaterThan(1);
      const b = split.buffers!;
      for (const [got, want] of [[b.lastHiddenState, host.lastHiddenState], [b.poolerOutput, host.poolerOutput], [b.hiddenStates![0]!, host.hiddenStates![0]!]] as const) {
        expect(got.shape).toEqual(want.shape);
        const data = await appRead(device, got);
        expect(Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength))).toBe(true);
        got.buffer.destroy();
      }
      console.log(`output 'gpu' over passes ${split.microBatches.join(' + ')}: equal to one host pass bit for bit`);
    } finally {
      disposeEncoder(encoder);
    }
  }, 120_000);

  it("imageTokens: GPUBuffer pixels in, tokens out in a caller-owned buffer, equal to the host path bit for bit", async () => {
    const device = await newDevice();
    const chat = await InternViT.load('test/fixtures/internvl/v2-bf16', { device });
    try {
      const px = readSafetensorsFloat32(await readFile('test/fixtures/internvl/v2-bf16/pixels.safetensors')).get('pixel_values')!;
      const host = await chat.imageTokensFromPixels(px.data, px.shape);
      const input = device.createBuffer({ size: px.data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(input, 0, px.data as Float32Array<ArrayBuffer>);
      const gpuOut = await chat.imageTokensFromPixels(input, px.shape, { output: 'gpu' });
      input.destroy();
      expect(gpuOut.data.length).toBe(0);
      expect(gpuOut.buffer!.shape).toEqual(host.shape);
      const data = await appRead(device, gpuOut.buffer!);
      gpuOut.buffer!.buffer.destroy();
      expect(Array.from(new Uint32Array(data.buffer, data.byteOffset, data.length))).toEqual(Array.from(new Uint32Array(host.data.buffer, host.data.byteOffset, host.data.length)));
      console.log(`image tokens [${host.shape.join(', ')}]: GPU in/out equals host bit for bit`);
    } finally {
      chat.dispose();
    }
  }, 120_000);

  it("the app's own GPU errors are the app's; the runtime never destroys its device; f16 where it asked for shader-f16", async () => {
    const device = await newDevice(['shader-f16']);
    const model = await InternViT.load(src.checkpoint, { device });
    const px = new Float32Array(3 * 47 * 61).map((_, i) => Math.cos(i));
    const want = await model.embedPixels(px, [1, 3, 47, 61]);
    // An invalid buffer made by the app outside any error scope: an uncaptured error of the app.
    const errors: string[] = [];
    device.addEventListener('uncapturederror', (ev) => errors.push((ev as GPUUncapturedErrorEvent).error.message));
    device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
    await device.queue.onSubmittedWorkDone();
    await new Promise((r) => setTimeout(r, 50));
    const again = await model.embedPixels(px, [1, 3, 47, 61]);
    expect(Array.from(again.lastHiddenState.data)).toEqual(Array.from(want.lastHiddenState.data));
    expect(errors.length).toBeGreaterThan(0); // it reached the app's own listener
    const { destroyGpu } = await import('../../src/runtime/device.js');
    expect(() => destroyGpu(model.gpu)).toThrow(/belongs to the app/);
    model.dispose();
    if (device.features.has('shader-f16')) {
      const f16 = await InternViT.load(src.checkpoint, { device, precision: 'f16' });
      expect(f16.precision).toBe('f16');
      f16.dispose();
    } else {
      console.log('SKIP part: precision f16 on the app device: this adapter has no shader-f16');
    }
  }, 120_000);

  it('refuses a non-device and the limits option with { device }', async () => {
    await expect(InternViT.load(src.checkpoint, { device: {} as GPUDevice })).rejects.toThrow(/device must be a GPUDevice/);
    const device = await newDevice();
    await expect(InternViT.load(src.checkpoint, { device, limits: 'default' })).rejects.toThrow(/limits cannot be chosen for the app's device/);
  });
});
