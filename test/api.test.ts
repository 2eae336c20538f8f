// The one-call API: load once, image → tiles → encoder / image tokens.
import { describe, expect, it } from 'vitest';
import { useGpu } from './node-gpu.js';
import { InternViT, preprocess, readTensor } from '../src/internal.js';

const chat = 'test/fixtures/internvl/v2-bf16';
const image = 'test/fixtures/preprocess/sources/d_100x25.png';

describe('InternViT one-call API (Node)', () => {
  const gpu = useGpu();

  it('loads an InternVL chat checkpoint and turns a PNG into image tokens', async () => {
    const g = gpu();
    const progress: number[] = [];
    const model = await InternViT.load(chat, { gpu: g, onProgress: (p) => { if (p.stage === 'weights') progress.push(p.bytesDone / p.bytesTotal); } });
    expect(progress.at(-1)).toBe(1);
    console.log(model.describe());
    expect(model.describe()).toMatch(/InternVL projector: pixel shuffle v2 → 4 tokens\/tile → LLM hidden 48/);

    const tokens = await model.imageTokens(image, { maxTiles: 2 });
    // 100×25 (aspect 4) at S=56 with at most 2 tiles: a 2×1 grid plus the thumbnail.
    expect(tokens.tiles).toEqual({ count: 3, grid: { cols: 2, rows: 1 } });
    expect(tokens.shape).toEqual([3, 4, 48]);
    // The same as preprocessing and projecting in two explicit steps.
    const px = await preprocess(g, image, { size: 56, maxTiles: 2 });
    const twoStep = await model.imageTokensFromPixels(px.pixelValues, px.shape);
    expect(Array.from(tokens.data)).toEqual(Array.from(twoStep.data));

    // Preprocessing and the model share one command buffer: after the first image of a size, an image
    // costs one submit and no new buffers or pipelines.
    const before = { ...g.counters };
    const again = await model.imageTokens(image, { maxTiles: 2 });
    expect(g.counters.submits - before.submits).toBe(1);
    expect(g.counters.buffersCreated).toBe(before.buffersCreated);
    expect(g.counters.pipelinesCreated).toBe(before.pipelinesCreated);
    expect(Array.from(again.data)).toEqual(Array.from(tokens.data));

    // The encoder alone, CLIP-style preprocessing: one 56×56 tile, 17 tokens of width 32.
    const emb = await model.embed(image, { preprocess: 'clip', keepOnGpu: true });
    expect(emb.tiles.count).toBe(1);
    expect(emb.lastHiddenState.shape).toEqual([1, 17, 32]);
    expect(emb.gpu!.lastHiddenState.shape).toEqual([1, 17, 32]);
    expect((await readTensor(g, emb.gpu!.poolerOutput)).length).toBe(32);
    model.dispose();
  });

  it('refuses image tokens for a standalone InternViT checkpoint, and names missing sources', async () => {
    const model = await InternViT.load('test/fixtures/model/layernorm-f32', { gpu: gpu() });
    await expect(model.imageTokens(image)).rejects.toThrow(/needs an InternVL chat checkpoint/);
    model.dispose();
    await expect(InternViT.load('test/fixtures/no-such-model', { gpu: gpu() })).rejects.toThrow(/no-such-model/);
  });
});
