// Bring-your-own-device and GPU in/out, as an app would use them: the app makes the GPUDevice, loads
// the model on it, feeds pixel_values from its own GPUBuffer and reads caller-owned output buffers
// (embedPixels, featureMap) with its own copy. Browser-safe: run in Node (test/model/gpu-io.test.ts, Dawn) and in Chromium
// (test/browser/model-page/gpu-io.ts). Each function returns its problems ([] = passed).
import { InternViT } from '../../src/api.js';
import { gpuFromDevice } from '../../src/runtime/device.js';
import type { GpuOutput } from '../../src/model/gpu-io.js';
import { readSafetensorsFloat32 } from '../../src/runtime/safetensors.js';
import { checkFixture, formatFixture, type FixtureSource } from './parity-core.js';

/** What the app does to read a GPU buffer: its own MAP_READ buffer, one copy, map, destroy. */
export async function appRead(device: GPUDevice, out: GpuOutput): Promise<Float32Array> {
  const staging = device.createBuffer({ size: Math.ceil(out.byteLength / 4) * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'app readback' });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(out.buffer, 0, staging, 0, staging.size);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const data = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return data.subarray(0, out.byteLength / 4);
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && bits(a).every((x, i) => x === bits(b)[i]);

async function pixelsOf(src: FixtureSource): Promise<{ data: Float32Array; shape: number[] }> {
  const p = readSafetensorsFloat32(await src.read('pixels.safetensors'), `${src.name}/pixels.safetensors`).get('pixel_values');
  if (!p) throw new Error(`${src.name}: no pixel_values`);
  return p;
}

/**
 * The app's device: the fixture's parity on it (every expected output within tolerance), a model
 * loaded with { device } gives the same bits, dispose() leaves the device working, and a device
 * without shader-f16 is refused for precision 'f16' with the feature named.
 */
export async function checkByoDevice(device: GPUDevice, src: FixtureSource): Promise<{ problems: string[]; lines: string[] }> {
  const problems: string[] = [];
  const lines: string[] = [];
  const parity = await checkFixture(gpuFromDevice(device), src);
  lines.push(`app device parity: ${formatFixture(parity)}`);
  if (!parity.ok) problems.push(formatFixture(parity));

  const pixels = await pixelsOf(src);
  const model = await InternViT.load(src.checkpoint, { device });
  if (model.device !== device) problems.push('model.device is not the device passed in');
  if (!/limits: the app's device/.test(model.describe())) problems.push(`describe() does not say the device is the app's: ${model.describe().split('\n')[0]}`);
  const a = await model.embedPixels(pixels.data, pixels.shape);
  model.dispose();
  // The runtime must not have destroyed it: the app can still use it.
  const buf = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buf, 0, new Float32Array([1, 2, 3, 4]));
  await buf.mapAsync(GPUMapMode.READ);
  const back = Array.from(new Float32Array(buf.getMappedRange()));
  buf.unmap();
  buf.destroy();
  if (back.join() !== '1,2,3,4') problems.push(`after dispose() the app's device no longer works (read ${back.join()})`);
  // A second model on the same device after the first one's dispose(): same bits.
  const again = await InternViT.load(src.checkpoint, { device });
  const b = await again.embedPixels(pixels.data, pixels.shape);
  again.dispose();
  if (!sameBits(a.lastHiddenState.data, b.lastHiddenState.data)) problems.push('a second model on the same device gave different bits');
  if (!device.features.has('shader-f16')) {
    const err = await InternViT.load(src.checkpoint, { device, precision: 'f16' }).then(() => null, (e: Error) => e.message);
    if (!err || !/shader-f16/.test(err) || !/requiredFeatures/.test(err)) problems.push(`precision 'f16' on a device without shader-f16: ${err ?? 'no error'}`);
    else lines.push(`precision f16 refused: ${err}`);
  }
  return { problems, lines };
}

/**
 * GPU in and out: pixel_values from the app's GPUBuffer, outputs in buffers the caller owns, read by
 * the app with its own copy; the same bits as host in / host out (and featureMap's map). Also the clear errors: a buffer
 * too small, without COPY_SRC, or from another device (when `other` is given).
 */
export async function checkGpuInOut(device: GPUDevice, src: FixtureSource, other?: GPUDevice): Promise<{ problems: string[]; lines: string[] }> {
  const problems: string[] = [];
  const lines: string[] = [];
  const pixels = await pixelsOf(src);
  const model = await InternViT.load(src.checkpoint, { device });
  try {
    const host = await model.embedPixels(pixels.data, pixels.shape, { hiddenStates: [1] });
    const input = device.createBuffer({ size: pixels.data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label: 'app pixels' });
    device.queue.writeBuffer(input, 0, pixels.data as Float32Array<ArrayBuffer>);
    const gpuOut = await model.embedPixels(input, pixels.shape, { hiddenStates: [1], output: 'gpu' });
    const c0 = { ...model.gpu.counters };
    const second = await model.embedPixels(input, pixels.shape, { hiddenStates: [1], output: 'gpu' });
    // One submit; the only objects made are the three buffers handed to the caller.
    const c1 = model.gpu.counters;
    const made = [c1.submits - c0.submits, c1.buffersCreated - c0.buffersCreated, c1.pipelinesCreated - c0.pipelinesCreated, c1.bindGroupsCreated - c0.bindGroupsCreated];
    if (made.join() !== '1,3,0,0') problems.push(`a warm output 'gpu' call made [submits, buffers, pipelines, bind groups] = [${made}], want [1,3,0,0]`);
    else lines.push("warm output 'gpu' call: 1 submit, 3 buffers (the caller's), no pipeline or bind group");
    const o = gpuOut.buffers;
    if (!o) {
      problems.push("output 'gpu' returned no buffers");
      return { problems, lines };
    }
    // No hidden reuse: every call gets its own buffers.
    if (second.buffers!.lastHiddenState.buffer === o.lastHiddenState.buffer) problems.push("two output 'gpu' calls returned the same buffer");
    if (gpuOut.lastHiddenState.data.length !== 0) problems.push("output 'gpu' also returned host data");
    const pairs: [string, GpuOutput, { data: Float32Array; shape: number[] }][] = [
      ['last_hidden_state', o.lastHiddenState, host.lastHiddenState],
      ['pooler_output', o.poolerOutput, host.poolerOutput],
      ['hidden_states[1]', o.hiddenStates![0]!, host.hiddenStates![0]!],
    ];
    for (const [name, g, h] of pairs) {
      const got = await appRead(device, g);
      if (g.shape.join() !== h.shape.join()) problems.push(`${name}: GPU shape [${g.shape}] vs host [${h.shape}]`);
      else if (!sameBits(got, h.data)) problems.push(`${name}: GPUBuffer in → GPU out differs from host in → host out`);
      else lines.push(`${name} [${g.shape.join(', ')}]: GPU in/out equals host bit for bit`);
    }
    // The caller destroys its buffers; the model keeps working (it holds no reference to them).
    for (const r of [gpuOut, second]) for (const b of [r.buffers!.lastHiddenState, r.buffers!.poolerOutput, ...r.buffers!.hiddenStates!]) b.buffer.destroy();
    const after = await model.embedPixels(input, pixels.shape, { hiddenStates: [1] });
    if (!sameBits(after.lastHiddenState.data, host.lastHiddenState.data)) problems.push('after the caller destroyed its output buffers the model gave different bits');

    // featureMap's output 'gpu' (the same rules): the map in a new caller-owned buffer, host map bits.
    const image = { width: 50, height: 37, data: new Uint8Array(50 * 37 * 4).map((_, i) => (i * 37 + (i >> 7)) & 255) };
    const mapHost = await model.featureMap(image, { preprocess: 'none' });
    const mapGpu = await model.featureMap(image, { preprocess: 'none', output: 'gpu' });
    const m = mapGpu.buffers?.features;
    if (!m) problems.push("featureMap output 'gpu' returned no buffer");
    else {
      const got = await appRead(device, m);
      m.buffer.destroy();
      if (mapGpu.features.data.length !== 0) problems.push("featureMap output 'gpu' also returned host data");
      if (m.shape.join() !== mapHost.features.shape.join()) problems.push(`featureMap: GPU shape [${m.shape}] vs host [${mapHost.features.shape}]`);
      else if (!sameBits(got, mapHost.features.data)) problems.push("featureMap output 'gpu' differs from its host map");
      else lines.push(`featureMap [${m.shape.join(', ')}]: GPU out equals host bit for bit`);
    }

    const expectError = async (what: string, run: () => Promise<unknown>, pattern: RegExp) => {
      const err = await run().then(() => null, (e: Error) => e.message);
      if (!err || !pattern.test(err)) problems.push(`${what}: expected an error matching ${pattern}, got ${err ?? 'none'}`);
      else lines.push(`${what}: ${err.split('\n')[0]}`);
    };
    const small = device.createBuffer({ size: 64, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    await expectError('too small', () => model.embedPixels(small, pixels.shape), /has 64 bytes; pixel_values \[.*\] f32 needs \d+/);
    const noCopy = device.createBuffer({ size: pixels.data.byteLength, usage: GPUBufferUsage.STORAGE });
    await expectError('no COPY_SRC', () => model.embedPixels(noCopy, pixels.shape), /lacks GPUBufferUsage\.COPY_SRC/);
    await expectError('keepOnGpu with output gpu', () => model.embedPixels(input, pixels.shape, { output: 'gpu', keepOnGpu: true }), /exclude each other/);
    small.destroy();
    noCopy.destroy();
    if (other) {
      const foreign = other.createBuffer({ size: pixels.data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
      await expectError('a buffer of another device', () => model.embedPixels(foreign, pixels.shape), /must be created on the model's device/);
      foreign.destroy();
      const ok = await model.embedPixels(input, pixels.shape, { hiddenStates: [1] });
      if (!sameBits(ok.lastHiddenState.data, host.lastHiddenState.data)) problems.push('after the foreign-buffer error the model gave different bits');
    }
    input.destroy();
  } finally {
    model.dispose();
  }
  return { problems, lines };
}
