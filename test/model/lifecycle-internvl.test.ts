// InternVL chat checkpoints: image-token plans share the model's plan cache with the encoder plans.
// Concurrent imageTokens calls equal serial ones bit for bit with a budget too small to keep their
// plans, and a keepOnGpu token result is held through evictions until release().
import { describe, expect, it } from 'vitest';
import { useGpu } from '../node-gpu.js';
import { randomImage } from '../../src/kernels/resize.check.js';
import { InternViT, readTensor, type DecodedImage } from '../../src/internal.js';

const FIXTURE = 'test/fixtures/internvl/v2-bf16'; // vision hidden 32, 2 layers, 56 px tiles → 4 tokens of 48
const OPTS = { preprocess: 'none', size: 56 } as const;
const image = (w: number, h: number): DecodedImage => ({ data: randomImage(w, h, w * 31 + h), width: w, height: h, name: `noise ${w}×${h}` });
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('InternVL image tokens: shared plan cache, concurrency, keepOnGpu', () => {
  const gpu = useGpu();

  it('concurrent imageTokens equal serial ones; a held token result survives evictions until release()', async () => {
    const g = gpu();
    const before = g.counters.bytesLive;
    const model = await InternViT.load(FIXTURE, { gpu: g, planCacheBytes: 0, preprocessCacheBytes: 0 });
    const images = [image(60, 50), image(41, 70), image(56, 56), image(90, 33), image(60, 50), image(41, 70)];
    const serial: number[][] = [];
    for (const img of images) serial.push(bits((await model.imageTokens(img, OPTS)).data));
    const concurrent = await Promise.all(images.map((img, i) => (i % 2
      ? model.imageTokens(img, OPTS).then((r) => r.data)
      // Encoder calls in between: their plans compete for the same (empty) budget.
      : Promise.all([model.imageTokens(img, OPTS), model.embed(img, { ...OPTS, hiddenStates: [1] })]).then(([r]) => r.data))));
    concurrent.forEach((d, i) => expect(bits(d), `image ${i}`).toEqual(serial[i]));
    expect(serial[0]!.length).toBe(4 * 48);

    const kept = await model.imageTokens(images[0]!, { ...OPTS, keepOnGpu: true });
    await model.embed(images[1]!, OPTS);
    await model.embed(images[1]!, { ...OPTS, hiddenStates: [1] });
    expect(model.memory().plans).toBe(2); // the held token plan + the most recent encoder plan
    expect(bits((await readTensor(g, kept.gpu!)) as Float32Array)).toEqual(serial[0]);
    kept.release!();
    expect(model.memory().plans).toBe(1);
    model.dispose();
    expect(g.counters.bytesLive).toBe(before);
  });
});
