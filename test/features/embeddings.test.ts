// The output helpers (src/features/embeddings.ts, pcaPicture) against small hand-worked values and
// plain index-by-index loops over random tensors. CPU only.
import { describe, expect, it } from 'vitest';
import { clsPool, cosineSimilarity, imageGrid, meanPool, patchFeatureGrid, pca, pcaCellColors, pcaPicture } from '../../src/index.js';
import { compare, formatResult, randomArray } from '../../src/kernels/check-harness.js';

function expectWithin(name: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  const r = compare(name, got, want);
  expect(r.ok, formatResult(r)).toBe(true);
}

/** (B, N, D) random tokens; value of (b, n, d) at ((b·N) + n)·D + d. */
function tokens(B: number, N: number, D: number, seed: number) {
  return { data: randomArray(B * N * D, seed), shape: [B, N, D] };
}
const at = (t: { data: ArrayLike<number>; shape: readonly number[] }, b: number, n: number, d: number) =>
  t.data[(b * t.shape[1]! + n) * t.shape[2]! + d]!;

describe('cosineSimilarity', () => {
  it('matches hand-worked values', () => {
    expect(cosineSimilarity([1, 0], [0, 1])).toBe(0);
    expect(cosineSimilarity([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
    expect(cosineSimilarity([1, 2, 3], [-1, -2, -3])).toBeCloseTo(-1, 12);
    expect(cosineSimilarity([3, 4], [4, 3])).toBeCloseTo(24 / 25, 12);
    expect(cosineSimilarity([0, 0], [1, 1])).toBe(0);
  });
  it('refuses vectors of different lengths', () => {
    expect(() => cosineSimilarity([1, 2], [1, 2, 3])).toThrow(/different lengths \(2 and 3\)/);
  });
});

describe('pooling', () => {
  const t = tokens(3, 5, 4, 1);
  it('clsPool takes token 0 of every image', () => {
    const p = clsPool(t);
    expect(p.shape).toEqual([3, 4]);
    for (let b = 0; b < 3; b++) for (let d = 0; d < 4; d++) expect(p.data[b * 4 + d]).toBe(at(t, b, 0, d));
  });
  it('meanPool averages the patch tokens (CLS only with includeCls)', () => {
    const patches = meanPool(t), all = meanPool(t, { includeCls: true });
    expect(patches.shape).toEqual([3, 4]);
    const want = (from: number) => Array.from({ length: 12 }, (_, i) => {
      const b = Math.floor(i / 4), d = i % 4;
      let s = 0;
      for (let n = from; n < 5; n++) s += at(t, b, n, d);
      return s / (5 - from);
    });
    expectWithin('meanPool patches', patches.data, want(1));
    expectWithin('meanPool with CLS', all.data, want(0));
  });
  it('a hand-worked mean', () => {
    // One image, CLS + 2 patches of D = 2.
    expect(Array.from(meanPool({ data: [9, 9, 1, 2, 3, 6], shape: [1, 3, 2] }).data)).toEqual([2, 4]);
  });
  it('bad shapes are clear errors', () => {
    expect(() => meanPool({ data: [1, 2], shape: [2] })).toThrow(/expects tokens \(B, N, D\).*got shape \[2\]/);
    expect(() => clsPool({ data: [1, 2, 3], shape: [1, 2, 2] })).toThrow(/data has 3 values, shape \[1, 2, 2\] needs 4/);
    expect(() => meanPool({ data: [1, 2], shape: [1, 1, 2] })).toThrow(/no patch tokens/);
  });
});

describe('patchFeatureGrid', () => {
  it('drops CLS and lays patches out (B, D, h, w), any batch', () => {
    const B = 2, h = 3, w = 3, D = 5;
    const t = tokens(B, 1 + h * w, D, 2);
    const g = patchFeatureGrid(t);
    expect(g.shape).toEqual([B, D, h, w]);
    for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      expect(g.data[((b * D + d) * h + y) * w + x]).toBe(at(t, b, 1 + y * w + x, d));
    }
    const one = imageGrid(g, 1);
    expect(one.shape).toEqual([D, h, w]);
    expect(one.data[0]).toBe(at(t, 1, 1, 0));
  });
  it('non-square grids with height/width', () => {
    const t = tokens(1, 1 + 2 * 4, 3, 3);
    const g = patchFeatureGrid(t, { height: 2 });
    expect(g.shape).toEqual([1, 3, 2, 4]);
    expect(g.data[(0 * 2 + 1) * 4 + 3]).toBe(at(t, 0, 1 + 1 * 4 + 3, 0));
    expect(() => patchFeatureGrid(t)).toThrow(/8 patch tokens \(N = 9 with CLS\) are not a square grid; give height and width/);
    expect(() => patchFeatureGrid(t, { height: 3, width: 3 })).toThrow(/a 3×3 grid does not hold the 8 patch tokens/);
    expect(() => imageGrid(patchFeatureGrid(t, { width: 4 }), 1)).toThrow(/image 1 is outside the batch of 1/);
  });
});

describe('pcaPicture', () => {
  it('is pca → pcaCellColors, one pixel per cell (W × H), or upscaled onto the image', () => {
    const map = { data: randomArray(6 * 3 * 4, 4), shape: [6, 3, 4] };
    const pic = pcaPicture(map);
    expect([pic.width, pic.height]).toEqual([4, 3]);
    expect(Array.from(pic.data)).toEqual(Array.from(pcaCellColors(pca(map, 3), 12)));
    const big = pcaPicture(map, { image: { width: 8, height: 6 }, region: { x: 0, y: 0, width: 8, height: 6 } });
    expect([big.width, big.height]).toEqual([8, 6]);
    // Pixel (7, 5) lies in cell (2, 3): the same colour as the small picture's last pixel.
    expect(Array.from(big.data.subarray((5 * 8 + 7) * 4, (5 * 8 + 7) * 4 + 4))).toEqual(Array.from(pic.data.subarray(11 * 4, 12 * 4)));
    expect(() => pcaPicture({ data: [1], shape: [1, 1] })).toThrow(/expects a \(D, H, W\) feature map/);
  });
});
