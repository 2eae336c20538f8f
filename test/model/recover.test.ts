// Device loss through the public API: a run in flight when the device goes rejects with
// DeviceLostError (never hangs), later calls say to call recover(), and recover() restores the model
// from its original source (a folder; an in-memory store) with bit-identical outputs.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { randomImage } from '../../src/kernels/resize.check.js';
import { DeviceLostError, destroyGpu, getGpu, InternViT, memoryStore, type DecodedImage, type EmbedResult, type Gpu } from '../../src/internal.js';

const FIXTURE = 'test/fixtures/model/ragged-47x61';
const OPTS = { preprocess: 'none', size: 28, hiddenStates: [1] } as const;
const img: DecodedImage = { data: randomImage(37, 29, 5), width: 37, height: 29, name: 'noise 37×29' };
const bits = (r: EmbedResult) => [r.lastHiddenState, r.poolerOutput, ...(r.hiddenStates ?? [])].map((o) => Array.from(new Uint32Array(o.data.buffer, o.data.byteOffset, o.data.length)));

/** Settles `p` or says 'hung' after 20 s. */
const settle = (p: Promise<unknown>) => Promise.race([
  p.then(() => 'resolved', (e: unknown) => e),
  new Promise((r) => setTimeout(() => r('hung'), 20_000)),
]);

/** The device is destroyed right after the next submit: the run is in flight, its readback pending. */
function loseAfterNextSubmit(gpu: Gpu): void {
  const queue = gpu.device.queue;
  const submit = queue.submit.bind(queue);
  queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
    submit(buffers);
    gpu.device.destroy();
  };
}

describe('device loss and recover()', () => {
  let want: EmbedResult;

  it('a model that owns its device: in-flight and later calls reject, recover() restores identical outputs', async () => {
    const model = await InternViT.load(FIXTURE);
    try {
      want = await model.embed(img, OPTS);
      const lost = model.gpu;
      loseAfterNextSubmit(lost);
      const inFlight = await settle(model.embed(img, OPTS));
      expect(inFlight).toBeInstanceOf(DeviceLostError);
      expect(lost.lostReason).not.toBeNull();
      const later = model.embed(img, OPTS);
      await expect(later).rejects.toThrow(DeviceLostError);
      await expect(later).rejects.toThrow(/Call model\.recover\(\) to re-create the device/);
      await expect(model.embedPixels(new Float32Array(3 * 28 * 28), [1, 3, 28, 28])).rejects.toThrow(/recover\(\)/);

      // A call made while recover() runs waits for it.
      const recovering = model.recover();
      const during = model.embed(img, OPTS);
      await recovering;
      expect(model.gpu).not.toBe(lost);
      expect(model.gpu.lostReason).toBeNull();
      expect(bits(await during)).toEqual(bits(want));
      expect(bits(await model.embed(img, OPTS))).toEqual(bits(want));
      // On a live device recover() does nothing.
      const gpu = model.gpu;
      await model.recover();
      expect(model.gpu).toBe(gpu);
    } finally {
      model.dispose();
    }
    expect(model.gpu.counters.bytesLive).toBe(0);
    await expect(model.recover()).rejects.toThrow(/disposed/);
  });

  it('a model on a device passed to load(): recover(gpu) with a new device, weights from an in-memory store', async () => {
    const files: Record<string, Uint8Array> = {};
    for (const f of ['config.json', 'model.safetensors']) files[f] = new Uint8Array(await readFile(join(FIXTURE, f)));
    const first = await getGpu();
    const model = await InternViT.load(memoryStore(files), { gpu: first });
    destroyGpu(first);
    await first.lost;
    await expect(model.embed(img, OPTS)).rejects.toThrow(/recover\(gpu\) with a new device/);
    await expect(model.recover()).rejects.toThrow(/pass a new one/);
    await expect(model.recover(first)).rejects.toThrow(/needs a live device/);
    const second = await getGpu();
    try {
      await model.recover(second);
      expect(model.gpu).toBe(second);
      expect(bits(await model.embed(img, OPTS))).toEqual(bits(want));
      model.dispose();
      // The device is the caller's: dispose() frees the model's buffers and leaves the device alive.
      expect(second.counters.bytesLive).toBe(0);
      expect(second.lostReason).toBeNull();
    } finally {
      destroyGpu(second);
    }
  });
});
