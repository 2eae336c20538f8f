// PCA of patch features → RGB, the classic way to look at what a ViT's tokens encode: the three
// directions of largest variance over all patches become red, green and blue. Pure TS (no DOM), so the
// math is tested in Node (pca.test.ts).
//
// The top-k eigenvectors come from the smaller of the two Gram matrices of the centred data X (M×D):
// the D×D covariance XᵀX/(M−1) when D ≤ M, else the M×M XXᵀ/(M−1), whose eigenvectors u map to the
// covariance's as Xᵀu (same eigenvalues). Either way the eigen solve is orthogonal (subspace)
// iteration with a few extra vectors and a Rayleigh–Ritz step (Jacobi on the small p×p matrix).

import { symmetricEigen } from '../../src/features/analysis.js';

export interface PcaOptions {
  /** Fit on at most this many rows (evenly strided); every row is still projected. Default 4096. */
  maxFitRows?: number;
  /** Subspace iteration limit (default 300) and convergence tolerance on 1 − |cos| (default 1e-12). */
  maxIterations?: number;
  tolerance?: number;
}

export interface PcaResult {
  /** k unit vectors of length D, row-major (k×D); sign: the largest-magnitude entry is positive. */
  components: Float64Array;
  /** Their variances (covariance eigenvalues, divisor M−1), descending. */
  variances: Float64Array;
  /** Mean of the fitted rows (length D). */
  mean: Float64Array;
  /** Every row centred and projected: rows×k, row-major. */
  scores: Float64Array;
  k: number;
  iterations: number;
}

// The small symmetric eigen solve is the package's (src/features/analysis.ts), one copy for both.
export { symmetricEigen };

/** Orthonormalizes the p columns of q (n×p, row-major) in place (modified Gram–Schmidt, twice). */
function orthonormalize(q: Float64Array, n: number, p: number): void {
  let restarts = 0;
  for (let j = 0; j < p; j++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < j; i++) {
        let dot = 0;
        for (let r = 0; r < n; r++) dot += q[r * p + i]! * q[r * p + j]!;
        for (let r = 0; r < n; r++) q[r * p + j]! -= dot * q[r * p + i]!;
      }
    }
    let norm = 0;
    for (let r = 0; r < n; r++) norm += q[r * p + j]! ** 2;
    norm = Math.sqrt(norm);
    if (norm < 1e-150) {
      // The column collapsed (the matrix has rank < p): restart it on unit vectors in turn; since
      // p ≤ n, one of them lies outside the span of the columns before it.
      for (let r = 0; r < n; r++) q[r * p + j] = r === (j + restarts) % n ? 1 : 0;
      restarts++;
      j--;
      continue;
    }
    for (let r = 0; r < n; r++) q[r * p + j]! /= norm;
  }
}

/** Top-k eigenpairs of a symmetric PSD matrix c (n×n): vectors as k columns of an n×k array. */
export function topEigen(c: Float64Array, n: number, k: number, maxIterations = 300, tolerance = 1e-12): { values: Float64Array; vectors: Float64Array; iterations: number } {
  const p = Math.min(n, k + 3);
  // A fixed, deterministic start (a small LCG), so the same features give the same picture.
  let seed = 12345;
  const q = new Float64Array(n * p).map(() => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5);
  orthonormalize(q, n, p);
  const cq = new Float64Array(n * p);
  const cz = new Float64Array(n * p);
  const mul = (src: Float64Array, dst: Float64Array) => { // dst = c src
    dst.fill(0);
    for (let r = 0; r < n; r++) {
      for (let s = 0; s < n; s++) {
        const crs = c[r * n + s]!;
        if (crs === 0) continue;
        for (let j = 0; j < p; j++) dst[r * p + j]! += crs * src[s * p + j]!;
      }
    }
  };
  mul(q, cq);
  let prev = new Float64Array(n * k);
  let values: Float64Array = new Float64Array(p);
  let it = 0;
  for (; it < maxIterations; it++) {
    // z = orth(c q); Rayleigh–Ritz: t = zᵀ c z (p×p), q = z V with t's eigenvectors V, and c q = (c z) V.
    const z = Float64Array.from(cq);
    orthonormalize(z, n, p);
    mul(z, cz);
    const t = new Float64Array(p * p);
    for (let i = 0; i < p; i++) {
      for (let j = 0; j < p; j++) {
        let dot = 0;
        for (let r = 0; r < n; r++) dot += z[r * p + i]! * cz[r * p + j]!;
        t[i * p + j] = dot;
      }
    }
    for (let i = 0; i < p; i++) for (let j = 0; j < i; j++) t[i * p + j] = t[j * p + i] = (t[i * p + j]! + t[j * p + i]!) / 2;
    const eig = symmetricEigen(t, p);
    values = eig.values;
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < p; j++) {
        let sum = 0;
        let csum = 0;
        for (let i = 0; i < p; i++) {
          sum += z[r * p + i]! * eig.vectors[i * p + j]!;
          csum += cz[r * p + i]! * eig.vectors[i * p + j]!;
        }
        q[r * p + j] = sum;
        cq[r * p + j] = csum;
      }
    }
    // Converged when each of the top k vectors is (up to sign) the one of the previous iteration.
    const cur = new Float64Array(n * k);
    let worst = 0;
    for (let j = 0; j < k; j++) {
      let dot = 0;
      for (let r = 0; r < n; r++) {
        cur[r * k + j] = q[r * p + j]!;
        dot += cur[r * k + j]! * prev[r * k + j]!;
      }
      worst = Math.max(worst, 1 - Math.abs(dot));
    }
    prev = cur;
    if (worst <= tolerance) { it++; break; }
  }
  return { values: values.slice(0, k), vectors: prev, iterations: it };
}

/**
 * PCA of `rows` vectors of length `dim` (row-major in `data`): the top k principal components, their
 * variances, and every row's scores.
 */
export function pca(data: ArrayLike<number>, rows: number, dim: number, k = 3, options: PcaOptions = {}): PcaResult {
  if (!Number.isInteger(rows) || !Number.isInteger(dim) || rows < 2 || dim < 1) throw new Error(`pca: need at least 2 rows of length ≥ 1 (got ${rows}×${dim})`);
  if (data.length !== rows * dim) throw new Error(`pca: ${data.length} values is not ${rows}×${dim}`);
  if (!Number.isInteger(k) || k < 1 || k > dim) throw new Error(`pca: k must be in 1..${dim} (got ${k})`);
  const fitRows = Math.min(rows, Math.max(2, options.maxFitRows ?? 4096));
  const rowOf = (i: number) => Math.floor((i * rows) / fitRows);

  const mean = new Float64Array(dim);
  for (let i = 0; i < fitRows; i++) {
    const o = rowOf(i) * dim;
    for (let d = 0; d < dim; d++) mean[d]! += data[o + d]!;
  }
  for (let d = 0; d < dim; d++) mean[d]! /= fitRows;
  const x = new Float64Array(fitRows * dim);
  for (let i = 0; i < fitRows; i++) {
    const o = rowOf(i) * dim;
    for (let d = 0; d < dim; d++) x[i * dim + d] = data[o + d]! - mean[d]!;
  }

  const useCovariance = dim <= fitRows;
  const n = useCovariance ? dim : fitRows;
  const kk = Math.min(k, n);
  const c = new Float64Array(n * n);
  const scale = 1 / (fitRows - 1);
  if (useCovariance) { // XᵀX: accumulate row outer products (upper triangle), then mirror
    for (let i = 0; i < fitRows; i++) {
      const o = i * dim;
      for (let a = 0; a < dim; a++) {
        const xa = x[o + a]!;
        if (xa === 0) continue;
        const ro = a * dim;
        for (let b = a; b < dim; b++) c[ro + b]! += xa * x[o + b]!;
      }
    }
  } else { // XXᵀ
    for (let i = 0; i < fitRows; i++) {
      for (let j = i; j < fitRows; j++) {
        let dot = 0;
        for (let d = 0; d < dim; d++) dot += x[i * dim + d]! * x[j * dim + d]!;
        c[i * n + j] = dot;
      }
    }
  }
  for (let a = 0; a < n; a++) {
    c[a * n + a]! *= scale;
    for (let b = a + 1; b < n; b++) c[b * n + a] = c[a * n + b]! *= scale;
  }

  const eig = topEigen(c, n, kk, options.maxIterations, options.tolerance);
  const components = new Float64Array(k * dim);
  const variances = new Float64Array(k);
  for (let j = 0; j < kk; j++) {
    variances[j] = Math.max(0, eig.values[j]!);
    if (useCovariance) {
      for (let d = 0; d < dim; d++) components[j * dim + d] = eig.vectors[d * kk + j]!;
    } else { // v = Xᵀu, normalized
      for (let i = 0; i < fitRows; i++) {
        const u = eig.vectors[i * kk + j]!;
        for (let d = 0; d < dim; d++) components[j * dim + d]! += u * x[i * dim + d]!;
      }
    }
    let norm = 0;
    let big = 0;
    for (let d = 0; d < dim; d++) {
      const v = components[j * dim + d]!;
      norm += v * v;
      if (Math.abs(v) > Math.abs(big)) big = v;
    }
    const f = (big < 0 ? -1 : 1) / (Math.sqrt(norm) || 1);
    for (let d = 0; d < dim; d++) components[j * dim + d]! *= f;
  }
  // With fewer fitted rows than k the extra components stay zero (no variance to show).

  const scores = new Float64Array(rows * k);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += (data[i * dim + d]! - mean[d]!) * components[j * dim + d]!;
      scores[i * k + j] = s;
    }
  }
  return { components, variances, mean, scores, k, iterations: eig.iterations };
}

/** Patch tokens of a (tiles, N, D) hidden state without each tile's CLS token: (tiles·(N−1))×D. */
export function patchTokens(data: Float32Array, shape: readonly number[]): { data: Float32Array; rows: number; dim: number; perTile: number } {
  if (shape.length !== 3) throw new Error(`patchTokens: expected a (tiles, N, D) shape, got [${shape.join(', ')}]`);
  const [tiles, n, dim] = shape as [number, number, number];
  if (data.length !== tiles * n * dim) throw new Error(`patchTokens: ${data.length} values is not [${shape.join(', ')}]`);
  if (n < 2) throw new Error(`patchTokens: N = ${n} has no patch tokens after CLS`);
  const perTile = n - 1;
  const out = new Float32Array(tiles * perTile * dim);
  for (let t = 0; t < tiles; t++) out.set(data.subarray((t * n + 1) * dim, (t + 1) * n * dim), t * perTile * dim);
  return { data: out, rows: tiles * perTile, dim, perTile };
}

/**
 * Scores (rows×k, k ≥ 1; components past 3 ignored, missing ones black) → RGBA bytes per row: each
 * component min–max scaled to 0..255 over all rows (a constant component maps to 0).
 */
export function scoresToRgba(scores: ArrayLike<number>, rows: number, k: number): Uint8ClampedArray {
  if (scores.length !== rows * k) throw new Error(`scoresToRgba: ${scores.length} values is not ${rows}×${k}`);
  const out = new Uint8ClampedArray(rows * 4);
  for (let c = 0; c < 3; c++) {
    if (c >= k) continue;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < rows; i++) {
      const v = scores[i * k + c]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const range = hi - lo;
    for (let i = 0; i < rows; i++) out[i * 4 + c] = range > 0 ? Math.round((255 * (scores[i * k + c]! - lo)) / range) : 0;
  }
  for (let i = 0; i < rows; i++) out[i * 4 + 3] = 255;
  return out;
}

export interface RgbaImage { width: number; height: number; data: Uint8ClampedArray }

/**
 * Draws tiles of side×side patch colours (RGBA per patch, tile-major, row-major inside a tile) as
 * cell×cell squares: tiles first..first+cols·rows−1 laid out row-major on a cols×rows grid.
 */
export function patchGridImage(rgba: Uint8ClampedArray, side: number, cell: number, grid: { cols: number; rows: number }, first = 0): RgbaImage {
  const perTile = side * side;
  const count = grid.cols * grid.rows;
  if (rgba.length < (first + count) * perTile * 4) throw new Error(`patchGridImage: ${rgba.length / 4} patches, need tiles ${first}..${first + count - 1} of ${perTile}`);
  const tilePx = side * cell;
  const width = grid.cols * tilePx;
  const height = grid.rows * tilePx;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let t = 0; t < count; t++) {
    const x0 = (t % grid.cols) * tilePx;
    const y0 = Math.floor(t / grid.cols) * tilePx;
    for (let y = 0; y < tilePx; y++) {
      for (let x = 0; x < tilePx; x++) {
        const src = ((first + t) * perTile + Math.floor(y / cell) * side + Math.floor(x / cell)) * 4;
        const dst = ((y0 + y) * width + x0 + x) * 4;
        data[dst] = rgba[src]!;
        data[dst + 1] = rgba[src + 1]!;
        data[dst + 2] = rgba[src + 2]!;
        data[dst + 3] = rgba[src + 3]!;
      }
    }
  }
  return { width, height, data };
}
