// model.featureMap: the stitched map must equal the per-tile tokens of the same forward (embed),
// rearranged here by an independent CPU rearrangement; tiny model (D = 32, 2 layers), S = 28 (2×2 patches/tile).
import { describe, expect, it } from 'vitest';
import { useGpu } from '../node-gpu.js';
import { cellRect, disposeEncoder, featureMap, InternViT, loadEncoder, preprocessLayout, recordForward, type DecodedImage } from '../../src/internal.js';
import { largestBinding, withLimits } from './lowered-limits.js';
import { appRead } from './gpu-io-core.js';
import { rng } from '../../src/kernels/check-harness.js';

const checkpoint = 'test/fixtures/model/layernorm-f32';

function randomImage(width: number, height: number, seed: number): DecodedImage {
  const r = rng(seed);
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(256 * r());
  return { width, height, data, name: `random ${width}×${height}` };
}

/** Tokens (T, 1 + h·w, D) → one (D, h, w) array per tile, as nested arrays. */
function tileMaps(tokens: Float32Array, T: number, h: number, w: number, D: number): number[][][][] {
  return Array.from({ length: T }, (_, t) => Array.from({ length: D }, (_, d) =>
    Array.from({ length: h }, (_, a) => Array.from({ length: w }, (_, b) => tokens[(t * (1 + h * w) + 1 + a * w + b) * D + d]!))));
}

/** Tile maps of one grid row placed side by side, grid rows stacked: (D, rows·h, cols·w), flattened. */
function stitch(maps: number[][][][], rows: number, cols: number, D: number): number[] {
  const out: number[] = [];
  for (let d = 0; d < D; d++) {
    for (let r = 0; r < rows; r++) {
      const rowTiles = maps.slice(r * cols, (r + 1) * cols);
      for (let a = 0; a < rowTiles[0]![d]!.length; a++) out.push(...rowTiles.flatMap((m) => m[d]![a]!));
    }
  }
  return out;
}

describe('featureMap (stitched patch-feature maps)', () => {
  const gpu = useGpu();

  // (cols, rows) and an image whose aspect makes InternVL pick exactly that grid among its tile count.
  const grids = [
    // The kernel checks (src/kernels/feature-layout.check.ts) cover the other orientation of each grid.
    { cols: 4, rows: 1, width: 112, height: 28 },
    { cols: 2, rows: 4, width: 50, height: 101 },
    { cols: 3, rows: 2, width: 90, height: 61 },
    { cols: 1, rows: 1, width: 40, height: 33 },
  ];

  it('stitches InternVL grids 4×1, 2×4, 3×2, 1×1 (cols×rows) in the image layout; thumbnail separately', async () => {
    const model = await InternViT.load(checkpoint, { gpu: gpu() });
    const D = 32, h = 2, w = 2;
    for (const [i, g] of grids.entries()) {
      const image = randomImage(g.width, g.height, 40 + i);
      const n = g.cols * g.rows;
      const opts = { minTiles: n, maxTiles: n };
      const fm = await model.featureMap(image, opts);
      expect(fm.tiles.grid, `${g.width}×${g.height}`).toEqual({ cols: g.cols, rows: g.rows });
      const T = n > 1 ? n + 1 : 1;
      expect(fm.tiles.count).toBe(T);
      expect(fm.features.shape).toEqual([D, g.rows * h, g.cols * w]);
      const emb = await model.embed(image, opts);
      const maps = tileMaps(emb.lastHiddenState.data, T, h, w, D);
      expect(Array.from(fm.features.data)).toEqual(stitch(maps.slice(0, n), g.rows, g.cols, D));
      if (n > 1) {
        expect(fm.thumbnailFeatures!.shape).toEqual([D, h, w]);
        expect(Array.from(fm.thumbnailFeatures!.data)).toEqual(stitch([maps[n]!], 1, 1, D));
      } else {
        expect(fm.thumbnailFeatures).toBeUndefined();
      }
      expect(fm.region).toEqual({ x: 0, y: 0, width: g.width, height: g.height });
    }
    model.dispose();
  });

  it('maps any layer, unstitched stacks, clip; a second call costs one submit and no allocation', async () => {
    const g = gpu();
    const model = await InternViT.load(checkpoint, { gpu: g });
    const D = 32, h = 2, w = 2;
    const image = randomImage(90, 61, 7);
    const opts = { minTiles: 6, maxTiles: 6 };
    const emb = await model.embed(image, { ...opts, hiddenStates: [1] });
    const maps = tileMaps(emb.hiddenStates![0]!.data, 7, h, w, D);

    const layer1 = await model.featureMap(image, { ...opts, layer: 1 });
    expect(layer1.layer).toBe(1);
    expect(Array.from(layer1.features.data)).toEqual(stitch(maps.slice(0, 6), 2, 3, D));
    const viaNegative = await model.featureMap(image, { ...opts, layer: -2 });
    expect(Array.from(viaNegative.features.data)).toEqual(Array.from(layer1.features.data));

    const before = { ...g.counters };
    const tiles = await model.featureMap(image, { ...opts, layer: 1, stitch: false });
    expect(tiles.features.shape).toEqual([7, D, h, w]);
    expect(Array.from(tiles.features.data)).toEqual(maps.flatMap((m) => stitch([m], 1, 1, D)));
    const again = await model.featureMap(image, { ...opts, layer: 1, stitch: false });
    expect(g.counters.submits - before.submits).toBe(2); // the first compiled its layout plan, both submitted once
    expect(Array.from(again.features.data)).toEqual(Array.from(tiles.features.data));
    const mid = { ...g.counters };
    await model.featureMap(image, { ...opts, layer: 1, stitch: false });
    expect(g.counters.submits - mid.submits).toBe(1);
    expect(g.counters.buffersCreated).toBe(mid.buffersCreated);
    expect(g.counters.pipelinesCreated).toBe(mid.pipelinesCreated);

    // clip: shortest side to 28, center crop: one tile; the region is the crop in source pixels.
    const clipImage = randomImage(70, 35, 8);
    const clip = await model.featureMap(clipImage, { preprocess: 'clip' });
    const clipEmb = await model.embed(clipImage, { preprocess: 'clip' });
    expect(clip.features.shape).toEqual([D, h, w]);
    expect(Array.from(clip.features.data)).toEqual(stitch(tileMaps(clipEmb.lastHiddenState.data, 1, h, w, D), 1, 1, D));
    // 70×35 → 56×28, crop x0 = 14: source x 17.5 .. 52.5, full height.
    expect(clip.region).toEqual({ x: 17.5, y: 0, width: 35, height: 35 });
    expect(cellRect(clip.region, 2, 2, 1, 1)).toEqual({ x: 35, y: 17.5, width: 17.5, height: 17.5 });

    await expect(model.featureMap(image, { layer: 3 })).rejects.toThrow(/layer 3 is outside 0\.\.2/);
    model.dispose();
  });

  // As embed's output 'gpu' (test/model/gpu-io-core.ts checkGpuInOut): new caller-owned buffers per
  // call, filled in the forward's one submit, read by the app with its own copy.
  it("output 'gpu': maps in caller-owned buffers, one submit, equal to the host maps bit for bit", async () => {
    const g = gpu();
    const model = await InternViT.load(checkpoint, { gpu: g });
    const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
    const image = randomImage(90, 61, 9);
    const opts = { minTiles: 6, maxTiles: 6 };
    try {
      const host = await model.featureMap(image, opts);
      const first = await model.featureMap(image, { ...opts, output: 'gpu' });
      const c0 = { ...g.counters };
      const second = await model.featureMap(image, { ...opts, output: 'gpu' });
      const c1 = g.counters;
      // Warm: one submit; the only objects made are the two buffers handed to the caller.
      expect([c1.submits - c0.submits, c1.buffersCreated - c0.buffersCreated, c1.pipelinesCreated - c0.pipelinesCreated, c1.bindGroupsCreated - c0.bindGroupsCreated]).toEqual([1, 2, 0, 0]);
      const b = first.buffers!;
      expect(second.buffers!.features.buffer).not.toBe(b.features.buffer);
      expect(first.features.data.length).toBe(0);
      expect(first.thumbnailFeatures!.data.length).toBe(0);
      expect(first.features.shape).toEqual(host.features.shape);
      for (const [got, want] of [[b.features, host.features], [b.thumbnailFeatures!, host.thumbnailFeatures!]] as const) {
        expect(got.shape).toEqual(want.shape);
        expect(got.byteLength).toBe(want.data.byteLength);
        expect(bits(await appRead(model.device, got))).toEqual(bits(want.data));
      }
      // The caller destroys its buffers; the model holds no reference and keeps working.
      for (const r of [first, second]) for (const o of [r.buffers!.features, r.buffers!.thumbnailFeatures!]) o.buffer.destroy();
      expect(bits((await model.featureMap(image, opts)).features.data)).toEqual(bits(host.features.data));

      // Unstitched, another layer: one (T, D, h, w) buffer, no thumbnail buffer.
      const tilesHost = await model.featureMap(image, { ...opts, layer: 1, stitch: false });
      const tiles = await model.featureMap(image, { ...opts, layer: 1, stitch: false, output: 'gpu' });
      expect(tiles.buffers!.thumbnailFeatures).toBeUndefined();
      expect(tiles.buffers!.features.shape).toEqual(tilesHost.features.shape);
      expect(bits(await appRead(model.device, tiles.buffers!.features))).toEqual(bits(tilesHost.features.data));
      tiles.buffers!.features.buffer.destroy();
      console.log(`featureMap output 'gpu': stitched [${host.features.shape.join(', ')}] + thumbnail, unstitched [${tilesHost.features.shape.join(', ')}]: equal to host bit for bit; warm call 1 submit, 2 buffers (the caller's)`);

      // Refusals make no buffer.
      const made = g.counters.buffersCreated;
      await expect(model.featureMap(image, { ...opts, output: 'bogus' as 'gpu' })).rejects.toThrow(/output must be 'host' or 'gpu' \(got 'bogus'\)/);
      await expect(model.featureMap(image, { ...opts, layer: 3, output: 'gpu' })).rejects.toThrow(/layer 3 is outside 0\.\.2/);
      expect(g.counters.buffersCreated).toBe(made);
    } finally {
      model.dispose();
    }
  });

  it('refuses, naming the per-pass count, when the tiles do not fit one pass (no host-side stitching)', async () => {
    const base = await loadEncoder(gpu(), checkpoint);
    // The largest binding of one tile's plan (a weight, here); pixel_values of 9 tiles of 28×28 exceed it.
    const limit = largestBinding(recordForward(base.encoder, [1, 3, 28, 28], []));
    expect(9 * 3 * 28 * 28 * 4).toBeGreaterThan(limit);
    disposeEncoder(base.encoder);
    const { encoder } = await loadEncoder(withLimits(gpu(), { maxStorageBufferBindingSize: limit }), checkpoint);
    const layout = preprocessLayout(224, 112, { size: 28, minTiles: 8, maxTiles: 8 });
    expect(layout.tiles).toBe(9);
    await expect(featureMap(encoder, new Float32Array(9 * 3 * 28 * 28), [9, 3, 28, 28], layout))
      .rejects.toThrow(/the 9 tiles of this image need one pass to be stitched, and this device takes at most 8 .*lower maxTiles/);
    disposeEncoder(encoder);
  });
});
