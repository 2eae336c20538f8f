// The demo page's PCA math, in Node. Data is built so that its sample covariance is known exactly:
// X = μ + Z·diag(s)·Bᵀ with Z's columns orthonormal and centred (M×r) and B's orthonormal (D×r), so
// the covariance is B·diag(s²/(M−1))·Bᵀ: the principal components are B's columns, their variances
// s²/(M−1), and row i's score on component j is ±s_j·Z[i, j].
import { describe, expect, it } from 'vitest';
import { patchGridImage, patchTokens, pca, scoresToRgba, symmetricEigen } from './pca.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) - 0.5;
}

/** n×r matrix (row-major) with orthonormal columns, optionally centred first. */
function orthonormalColumns(n: number, r: number, rand: () => number, centre: boolean): Float64Array {
  const q = Float64Array.from({ length: n * r }, rand);
  for (let j = 0; j < r; j++) {
    if (centre) {
      let m = 0;
      for (let i = 0; i < n; i++) m += q[i * r + j]!;
      for (let i = 0; i < n; i++) q[i * r + j]! -= m / n;
    }
    for (let pass = 0; pass < 2; pass++) {
      for (let l = 0; l < j; l++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += q[i * r + l]! * q[i * r + j]!;
        for (let i = 0; i < n; i++) q[i * r + j]! -= dot * q[i * r + l]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += q[i * r + j]! ** 2;
    for (let i = 0; i < n; i++) q[i * r + j]! /= Math.sqrt(norm);
  }
  return q;
}

function knownData(rows: number, dim: number, s: number[], seed: number) {
  const rand = lcg(seed);
  const r = s.length;
  const z = orthonormalColumns(rows, r, rand, true);
  const b = orthonormalColumns(dim, r, rand, false);
  const mu = Array.from({ length: dim }, () => 5 * rand());
  const x = new Float64Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    for (let d = 0; d < dim; d++) {
      let v = mu[d]!;
      for (let j = 0; j < r; j++) v += z[i * r + j]! * s[j]! * b[d * r + j]!;
      x[i * dim + d] = v;
    }
  }
  return { x, z, b, r };
}

function expectPca(rows: number, dim: number, s: number[], seed: number) {
  const { x, z, b, r } = knownData(rows, dim, s, seed);
  const k = 3;
  const res = pca(x, rows, dim, k);
  let worstDir = 0;
  let worstVar = 0;
  let worstScore = 0;
  for (let j = 0; j < k; j++) {
    let dot = 0;
    let big = 0;
    for (let d = 0; d < dim; d++) {
      const v = res.components[j * dim + d]!;
      dot += v * b[d * r + j]!;
      if (Math.abs(v) > Math.abs(big)) big = v;
    }
    expect(big, `component ${j}: largest entry positive`).toBeGreaterThan(0);
    worstDir = Math.max(worstDir, 1 - Math.abs(dot));
    const want = s[j]! ** 2 / (rows - 1);
    worstVar = Math.max(worstVar, Math.abs(res.variances[j]! - want) / want);
    const sign = Math.sign(dot);
    for (let i = 0; i < rows; i++) worstScore = Math.max(worstScore, Math.abs(res.scores[i * k + j]! - sign * s[j]! * z[i * r + j]!) / s[0]!);
  }
  console.log(`pca ${rows}×${dim} (${dim <= rows ? 'covariance' : 'Gram'}): ${res.iterations} iterations, ` +
    `max 1−|cos| ${worstDir.toExponential(2)}, max rel. variance error ${worstVar.toExponential(2)}, max score error ${worstScore.toExponential(2)} (×s₀)`);
  expect(worstDir).toBeLessThan(1e-9);
  expect(worstVar).toBeLessThan(1e-9);
  expect(worstScore).toBeLessThan(1e-6);
}

describe('embed page PCA', () => {
  it('symmetricEigen recovers a known decomposition', () => {
    const n = 7;
    const q = orthonormalColumns(n, n, lcg(3), false);
    const lambda = [9, 6, 4, 2.5, 1, 0.5, 0.1];
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let l = 0; l < n; l++) a[i * n + j]! += q[i * n + l]! * lambda[l]! * q[j * n + l]!;
    const { values, vectors } = symmetricEigen(a, n);
    let worst = 0;
    for (let l = 0; l < n; l++) {
      worst = Math.max(worst, Math.abs(values[l]! - lambda[l]!));
      let dot = 0;
      for (let i = 0; i < n; i++) dot += vectors[i * n + l]! * q[i * n + l]!;
      worst = Math.max(worst, 1 - Math.abs(dot));
    }
    console.log(`symmetricEigen 7×7: max error ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-12);
  });

  it('finds the top 3 components of the covariance (D ≤ M)', () => expectPca(300, 20, [10, 7, 5, 3, 2, 1, 0.5, 0.3, 0.2, 0.1], 1));
  it('finds them through the Gram matrix when D > M', () => expectPca(12, 40, [10, 7, 5, 3, 2, 1, 0.5, 0.3, 0.2, 0.1], 2));
  it('at the demo size: 3 tiles × 256 patches, D = 128, 24 components with close variances', () =>
    expectPca(768, 128, [10, 9.5, 9, 8.8, 8.6, 8.4, 8.2, 8, 7.5, 7, 6.5, 6, 5.5, 5, 4.5, 4, 3.5, 3, 2.5, 2, 1.5, 1, 0.5, 0.25], 4));

  it('drops each tile\'s CLS token', () => {
    const data = Float32Array.from({ length: 12 }, (_, i) => i);
    const p = patchTokens(data, [2, 3, 2]);
    expect([...p.data]).toEqual([2, 3, 4, 5, 8, 9, 10, 11]);
    expect([p.rows, p.dim, p.perTile]).toEqual([4, 2, 2]);
    expect(() => patchTokens(data, [2, 6])).toThrow(/\(tiles, N, D\)/);
    expect(() => patchTokens(data, [3, 3, 2])).toThrow(/is not \[3, 3, 2\]/);
  });

  it('min–max scales each component to 0..255', () => {
    // rows: (−1, 5, 7), (0, 5, 8), (1, 5, 9)
    const rgba = scoresToRgba([-1, 5, 7, 0, 5, 8, 1, 5, 9], 3, 3);
    expect([...rgba]).toEqual([0, 0, 0, 255, 128, 0, 128, 255, 255, 0, 255, 255]);
    expect([...scoresToRgba([2, 4], 2, 1)]).toEqual([0, 0, 0, 255, 255, 0, 0, 255]);
  });

  it('lays tiles out on their grid, each patch a cell×cell square', () => {
    // 3 tiles of 2×2 patches; patch p of tile t has red = 10·t + p. Grid 2×1 from tile 0, cell 3.
    const rgba = new Uint8ClampedArray(3 * 4 * 4);
    for (let i = 0; i < 12; i++) rgba.set([10 * Math.floor(i / 4) + (i % 4), 0, 0, 255], i * 4);
    const img = patchGridImage(rgba, 2, 3, { cols: 2, rows: 1 });
    expect([img.width, img.height]).toEqual([12, 6]);
    const red = (x: number, y: number) => img.data[(y * img.width + x) * 4];
    expect([red(0, 0), red(2, 2), red(3, 0), red(5, 5), red(0, 3)]).toEqual([0, 0, 1, 3, 2]);
    expect([red(6, 0), red(11, 0), red(6, 5), red(11, 5)]).toEqual([10, 11, 12, 13]);
    const thumb = patchGridImage(rgba, 2, 1, { cols: 1, rows: 1 }, 2);
    expect([...thumb.data].filter((_, i) => i % 4 === 0)).toEqual([20, 21, 22, 23]);
    expect(() => patchGridImage(rgba, 2, 1, { cols: 2, rows: 2 })).toThrow(/need tiles 0..3/);
  });

  it('rejects bad shapes with the sizes', () => {
    expect(() => pca(new Float32Array(10), 3, 4)).toThrow(/10 values is not 3×4/);
    expect(() => pca(new Float32Array(4), 1, 4)).toThrow(/at least 2 rows/);
    expect(() => pca(new Float32Array(8), 2, 4, 5)).toThrow(/k must be in 1..4/);
  });
});
