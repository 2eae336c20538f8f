// The feature-map views' maths against NumPy (reference/feature_views_fixture.py), k-means on planted
// clusters, and the rendering at the image's size. CPU only.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  blendOver, cellAtPixel, cellSimilarity, heatCellColors, kmeans, labelCellColors, pca, pcaCellColors, projectCells, readSafetensorsFloat32, upscaleCells,
} from '../../src/internal.js';
import { compare, formatResult, randomArray, rng } from '../../src/kernels/check-harness.js';

const fixture = readSafetensorsFloat32(readFileSync('test/fixtures/features/views.safetensors'), 'views.safetensors');
const map = fixture.get('map')!;

function expectWithin(name: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  const r = compare(name, got, want);
  console.log(formatResult(r));
  expect(r.ok, formatResult(r)).toBe(true);
}

describe('feature views vs NumPy', () => {
  it('pca: top-3 variances and projections equal NumPy eigh (each component up to its sign)', () => {
    const [, H, W] = map.shape as [number, number, number];
    const n = H * W;
    const p = pca(map, 3);
    expectWithin('pca variances', p.variances, fixture.get('pca.variances')!.data);
    const want = fixture.get('pca.projections')!.data;
    for (let c = 0; c < 3; c++) {
      const got = Array.from({ length: n }, (_, i) => p.projections[i * 3 + c]!);
      const ref = Array.from({ length: n }, (_, i) => want[i * 3 + c]!);
      // Eigenvectors are defined up to sign: align ours to NumPy's by the sign of their dot product.
      const sign = got.reduce((s, g, i) => s + g * ref[i]!, 0) < 0 ? -1 : 1;
      expectWithin(`pca projection ${c}`, got.map((g) => sign * g), ref);
    }
    // Projecting the same cells again (the thumbnail's path) gives the fitted projections.
    expectWithin('projectCells on the fitted map', projectCells(p, map), p.projections);
    // Our sign convention is fixed (largest-magnitude entry positive): another start vector converges to the same components.
    expect(Array.from(pca(map, 3, { seed: 9 }).components).every((v, i) => Math.abs(v - p.components[i]!) < 1e-6)).toBe(true);
  });

  it('cosine similarity to a cell equals NumPy', () => {
    for (const [y, x] of [[2, 3], [0, 6]] as const) {
      expectWithin(`similarity to (${y}, ${x})`, cellSimilarity(map, y, x), fixture.get(`similarity.${y}.${x}`)!.data);
    }
    expect(() => cellSimilarity(map, 5, 0)).toThrow(/cell \(5, 0\) is outside the 5×7 map/);
    expect(() => pca({ data: new Float32Array(5), shape: [2, 2, 2] })).toThrow(/5 values, shape \[2, 2, 2\] needs 8/);
  });

  it('k-means recovers planted clusters, deterministically, labels in raster order of first appearance', () => {
    const D = 16, H = 9, W = 11, n = H * W;
    const truth = Int32Array.from({ length: n }, (_, i) => (i % W < 4 ? 0 : Math.floor(i / W) < 5 ? 1 : 2));
    const centers = [0, 1, 2].map((c) => randomArray(D, 50 + c));
    const r = rng(3);
    const data = new Float32Array(D * n);
    for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) data[d * n + i] = centers[truth[i]!]![d]! + 0.05 * (r() - 0.5);
    const fm = { data, shape: [D, H, W] };
    const a = kmeans(fm, 3, { seed: 7 });
    expect(Array.from(a.labels)).toEqual(Array.from(truth)); // truth is numbered in raster order too
    expect(Array.from(kmeans(fm, 3, { seed: 7 }).labels)).toEqual(Array.from(a.labels));
    expect(() => kmeans(fm, 0)).toThrow(/k must be an integer in 1\.\.99/);
  });
});

describe('rendering at the image size', () => {
  it('upscales cells nearest over the covered region; outside a crop is transparent', () => {
    // A 2×2 map over the centre 50×50 of a 100×50 image (a 'clip' crop).
    const place = { image: { width: 100, height: 50 }, region: { x: 25, y: 0, width: 50, height: 50 } };
    expect(cellAtPixel(place, 2, 2, 24, 10)).toBeNull();
    expect(cellAtPixel(place, 2, 2, 25, 0)).toEqual({ y: 0, x: 0 });
    expect(cellAtPixel(place, 2, 2, 50, 49)).toEqual({ y: 1, x: 1 });
    const cells = labelCellColors([0, 1, 2, 3]);
    const img = upscaleCells(cells, 2, 2, place);
    expect([img.width, img.height, img.data.length]).toEqual([100, 50, 100 * 50 * 4]);
    const px = (x: number, y: number) => Array.from(img.data.subarray((y * 100 + x) * 4, (y * 100 + x) * 4 + 4));
    expect(px(10, 10)).toEqual([0, 0, 0, 0]);
    expect(px(30, 10)).toEqual(Array.from(cells.subarray(0, 4)));
    expect(px(60, 40)).toEqual(Array.from(cells.subarray(12, 16)));
    expect(new Set([0, 1, 2, 3].map((i) => Array.from(cells.subarray(i * 4, i * 4 + 3)).join())).size).toBe(4);

    const base = { data: new Uint8ClampedArray(100 * 50 * 4).fill(200), width: 100, height: 50 };
    const blended = blendOver(base, img, 0.5);
    expect(Array.from(blended.data.subarray(0, 4))).toEqual([200, 200, 200, 255]); // no overlay there
    expect(blended.data[(10 * 100 + 30) * 4]).toBe(Math.round(200 * 0.5 + cells[0]! * 0.5));
  });

  it('pca colours stretch each component to 0..255; heat ramp is ordered', () => {
    const p = pca(map, 3);
    const colors = pcaCellColors(p, 35);
    for (let c = 0; c < 3; c++) {
      const ch = Array.from({ length: 35 }, (_, i) => colors[i * 4 + c]!);
      expect([Math.min(...ch), Math.max(...ch)]).toEqual([0, 255]);
    }
    const heat = heatCellColors([-1, 0, 1]);
    expect(Array.from(heat.subarray(0, 3))).toEqual([68, 1, 84]);
    expect(Array.from(heat.subarray(8, 11))).toEqual([253, 231, 37]);
  });
});
