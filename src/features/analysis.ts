// What people look at in a patch-feature map (D, H, W): its top principal components, the cosine
// similarity of every cell to one cell, and a k-means partition. Plain TypeScript on the host
// (browser-safe, no node: imports); float64 arithmetic. Results are per cell, row-major (y·W + x);
// render.ts turns them into RGBA pixels at the image's size.
import { rng } from '../runtime/rng.js';

/** A channel-first map as featureMap returns it: data (D·H·W), shape [D, H, W]. */
export interface FeatureGrid {
  data: ArrayLike<number>;
  shape: readonly number[];
}

function dims(map: FeatureGrid, what: string): [number, number, number] {
  const [D, H, W] = map.shape as [number, number, number];
  if (map.shape.length !== 3 || !map.shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${what}: expects a (D, H, W) feature map, got shape [${map.shape.join(', ')}]`);
  }
  if (map.data.length !== D * H * W) throw new Error(`${what}: data has ${map.data.length} values, shape [${D}, ${H}, ${W}] needs ${D * H * W}`);
  return [D, H, W];
}

/** Cells as rows: X[n·D + d] = map[d, n] (n = y·W + x), float64. */
export function cellMatrix(map: FeatureGrid, what = 'cellMatrix'): { x: Float64Array; n: number; d: number } {
  const [D, H, W] = dims(map, what);
  const n = H * W;
  const x = new Float64Array(n * D);
  for (let d = 0; d < D; d++) for (let i = 0; i < n; i++) x[i * D + d] = map.data[d * n + i]!;
  return { x, n, d: D };
}

export interface PcaResult {
  /** Top components as unit rows (k·D), sign fixed so each one's largest-magnitude entry is positive. */
  components: Float64Array;
  /** Variance along each component (eigenvalues of the covariance, divided by N − 1), descending. */
  variances: Float64Array;
  /** The cells projected on the components, (N, k) row-major: the centred features times the components. */
  projections: Float64Array;
  mean: Float64Array;
  k: number;
}

/** Eigen-decomposition of a small symmetric matrix (cyclic Jacobi): values descending, vectors as columns. */
export function symmetricEigen(a: Float64Array, p: number): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(p * p);
  for (let i = 0; i < p; i++) v[i * p + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0, diag = 0;
    for (let i = 0; i < p; i++) {
      diag += m[i * p + i]! ** 2;
      for (let j = i + 1; j < p; j++) off += m[i * p + j]! ** 2;
    }
    if (off <= 1e-30 * diag || off === 0) break; // relative: the matrix's scale does not matter
    for (let i = 0; i < p; i++) {
      for (let j = i + 1; j < p; j++) {
        const aij = m[i * p + j]!;
        if (Math.abs(aij) < 1e-300) continue;
        const theta = (m[j * p + j]! - m[i * p + i]!) / (2 * aij);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < p; k++) { // rotate columns i, j
          const mki = m[k * p + i]!, mkj = m[k * p + j]!;
          m[k * p + i] = c * mki - s * mkj;
          m[k * p + j] = s * mki + c * mkj;
        }
        for (let k = 0; k < p; k++) { // rotate rows i, j
          const mik = m[i * p + k]!, mjk = m[j * p + k]!;
          m[i * p + k] = c * mik - s * mjk;
          m[j * p + k] = s * mik + c * mjk;
        }
        for (let k = 0; k < p; k++) {
          const vki = v[k * p + i]!, vkj = v[k * p + j]!;
          v[k * p + i] = c * vki - s * vkj;
          v[k * p + j] = s * vki + c * vkj;
        }
      }
    }
  }
  const order = Array.from({ length: p }, (_, i) => i).sort((x, y) => m[y * p + y]! - m[x * p + x]!);
  const values = Float64Array.from(order, (i) => m[i * p + i]!);
  const vectors = new Float64Array(p * p);
  order.forEach((src, dst) => { for (let k = 0; k < p; k++) vectors[k * p + dst] = v[k * p + src]!; });
  return { values, vectors };
}

/** Orthonormalizes the p columns of V (D×p, row-major) in place (modified Gram–Schmidt, twice). */
function orthonormalize(v: Float64Array, d: number, p: number, fill: () => number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < p; j++) {
      for (let i = 0; i < j; i++) {
        let dot = 0;
        for (let r = 0; r < d; r++) dot += v[r * p + i]! * v[r * p + j]!;
        for (let r = 0; r < d; r++) v[r * p + j]! -= dot * v[r * p + i]!;
      }
      let norm = 0;
      for (let r = 0; r < d; r++) norm += v[r * p + j]! ** 2;
      norm = Math.sqrt(norm);
      if (norm < 1e-200) { // a rank-deficient map: any direction orthogonal to the others will do
        for (let r = 0; r < d; r++) v[r * p + j] = fill() - 0.5;
        j--;
        continue;
      }
      for (let r = 0; r < d; r++) v[r * p + j]! /= norm;
    }
  }
}

/**
 * Top-k principal components of the map's cells (each cell a D-vector), by subspace iteration with
 * Rayleigh–Ritz on the centred cells: the D×D covariance is never formed (D = 3200 for the 6B), each
 * iteration costs two passes over the N×D cells. A few extra vectors speed convergence; iteration
 * stops when the top k variances change by less than `tol` (relative).
 */
export function pca(map: FeatureGrid, k = 3, opts: { tol?: number; maxIterations?: number; seed?: number } = {}): PcaResult {
  const { x, n, d } = cellMatrix(map, 'pca');
  if (!Number.isInteger(k) || k < 1 || k > Math.min(n, d)) throw new Error(`pca: k must be in 1..${Math.min(n, d)} (cells ${n}, channels ${d}), got ${k}`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += x[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j]! -= mean[j]!;
  const p = Math.min(d, n, k + 6);
  const random = rng(opts.seed ?? 1);
  const v = new Float64Array(d * p).map(() => random() - 0.5);
  const y = new Float64Array(n * p);
  const tol = opts.tol ?? 1e-12;
  let values: Float64Array = new Float64Array(p);
  let previous: Float64Array = new Float64Array(k).fill(NaN);
  for (let it = 0; it < (opts.maxIterations ?? 2000); it++) {
    orthonormalize(v, d, p, random);
    // Y = Xc V; B = YᵀY = Vᵀ C V; rotate V onto B's eigenvectors (Ritz vectors), then V ← Xcᵀ (Y U).
    y.fill(0);
    for (let i = 0; i < n; i++) for (let r = 0; r < d; r++) {
      const xv = x[i * d + r]!;
      if (xv !== 0) for (let j = 0; j < p; j++) y[i * p + j]! += xv * v[r * p + j]!;
    }
    const b = new Float64Array(p * p);
    for (let i = 0; i < n; i++) for (let a = 0; a < p; a++) for (let c = a; c < p; c++) b[a * p + c]! += y[i * p + a]! * y[i * p + c]!;
    for (let a = 0; a < p; a++) for (let c = 0; c < a; c++) b[a * p + c] = b[c * p + a]!;
    const eig = symmetricEigen(b, p);
    values = eig.values;
    const rot = (m: Float64Array, rows: number) => {
      const row = new Float64Array(p);
      for (let r = 0; r < rows; r++) {
        row.fill(0);
        for (let a = 0; a < p; a++) { const mv = m[r * p + a]!; for (let c = 0; c < p; c++) row[c]! += mv * eig.vectors[a * p + c]!; }
        m.set(row, r * p);
      }
    };
    rot(v, d);
    const converged = Array.from({ length: k }, (_, i) => Math.abs(values[i]! - previous[i]!) <= tol * Math.abs(values[0]!)).every(Boolean);
    if (converged) break;
    previous = values.slice(0, k);
    rot(y, n);
    v.fill(0);
    for (let i = 0; i < n; i++) for (let r = 0; r < d; r++) {
      const xv = x[i * d + r]!;
      if (xv !== 0) for (let j = 0; j < p; j++) v[r * p + j]! += xv * y[i * p + j]!;
    }
  }
  // V holds orthonormal Ritz vectors in its columns, sorted by variance.
  const components = new Float64Array(k * d);
  for (let c = 0; c < k; c++) {
    let big = 0;
    for (let r = 0; r < d; r++) if (Math.abs(v[r * p + c]!) > Math.abs(big)) big = v[r * p + c]!;
    const sign = big < 0 ? -1 : 1;
    for (let r = 0; r < d; r++) components[c * d + r] = sign * v[r * p + c]!;
  }
  const projections = new Float64Array(n * k);
  for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) {
    let s = 0;
    for (let r = 0; r < d; r++) s += x[i * d + r]! * components[c * d + r]!;
    projections[i * k + c] = s;
  }
  return { components, variances: values.slice(0, k).map((e) => e / Math.max(1, n - 1)), projections, mean, k };
}

/**
 * Another map's cells (same D) projected on components fitted elsewhere, (N, k) row-major: e.g. the
 * thumbnail's cells on the stitched map's components, so both pictures share one colour scale.
 */
export function projectCells(p: PcaResult, map: FeatureGrid): Float64Array {
  const { x, n, d } = cellMatrix(map, 'projectCells');
  if (d !== p.mean.length) throw new Error(`projectCells: the map has ${d} channels, the components ${p.mean.length}`);
  const out = new Float64Array(n * p.k);
  for (let i = 0; i < n; i++) for (let c = 0; c < p.k; c++) {
    let s = 0;
    for (let r = 0; r < d; r++) s += (x[i * d + r]! - p.mean[r]!) * p.components[c * d + r]!;
    out[i * p.k + c] = s;
  }
  return out;
}

/** Cosine similarity of every cell to cell (y, x): H·W values in [−1, 1] (0 for an all-zero cell). */
export function cellSimilarity(map: FeatureGrid, y: number, x: number): Float64Array {
  const [D, H, W] = dims(map, 'cellSimilarity');
  if (!Number.isInteger(y) || !Number.isInteger(x) || y < 0 || y >= H || x < 0 || x >= W) {
    throw new Error(`cellSimilarity: cell (${y}, ${x}) is outside the ${H}×${W} map`);
  }
  const n = H * W, q = y * W + x;
  const dot = new Float64Array(n), norm = new Float64Array(n);
  for (let d = 0; d < D; d++) {
    const qv = map.data[d * n + q]!;
    for (let i = 0; i < n; i++) {
      const v = map.data[d * n + i]!;
      dot[i]! += v * qv;
      norm[i]! += v * v;
    }
  }
  const qn = Math.sqrt(norm[q]!);
  return dot.map((s, i) => (qn > 0 && norm[i]! > 0 ? s / (qn * Math.sqrt(norm[i]!)) : 0));
}

export interface KMeansResult {
  /** Cluster of each cell (row-major); clusters numbered by first appearance in raster order. */
  labels: Int32Array;
  k: number;
  iterations: number;
}

/**
 * K-means on the cells' L2-normalized features (direction, not magnitude, is what the similarity view
 * shows too): k-means++ seeding from a seeded generator, Lloyd iterations until no cell moves, so the
 * same map and seed give the same labels everywhere.
 */
export function kmeans(map: FeatureGrid, k: number, opts: { seed?: number; maxIterations?: number } = {}): KMeansResult {
  const { x, n, d } = cellMatrix(map, 'kmeans');
  if (!Number.isInteger(k) || k < 1 || k > n) throw new Error(`kmeans: k must be an integer in 1..${n} (the map's cells), got ${k}`);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[i * d + j]! ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < d; j++) x[i * d + j]! *= inv;
  }
  const dist2 = (i: number, c: Float64Array, ci: number) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += (x[i * d + j]! - c[ci * d + j]!) ** 2;
    return s;
  };
  const random = rng(opts.seed ?? 0);
  const centers = new Float64Array(k * d);
  const first = Math.floor(random() * n);
  centers.set(x.subarray(first * d, first * d + d), 0);
  const nearest = new Float64Array(n).fill(Infinity);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) { nearest[i] = Math.min(nearest[i]!, dist2(i, centers, c - 1)); total += nearest[i]!; }
    let pick = n - 1;
    if (total > 0) {
      let target = random() * total;
      for (let i = 0; i < n; i++) { target -= nearest[i]!; if (target < 0) { pick = i; break; } }
    } else pick = Math.floor(random() * n); // every cell is already a center's duplicate
    centers.set(x.subarray(pick * d, pick * d + d), c * d);
  }
  const labels = new Int32Array(n).fill(-1);
  let iterations = 0;
  for (; iterations < (opts.maxIterations ?? 300); iterations++) {
    let moved = 0;
    for (let i = 0; i < n; i++) {
      let best = 0, bestD = Infinity;
      for (let c = 0; c < k; c++) { const e = dist2(i, centers, c); if (e < bestD) { bestD = e; best = c; } }
      if (labels[i] !== best) { labels[i] = best; moved++; }
    }
    if (moved === 0) break;
    const counts = new Float64Array(k);
    const sums = new Float64Array(k * d);
    for (let i = 0; i < n; i++) { const c = labels[i]!; counts[c]!++; for (let j = 0; j < d; j++) sums[c * d + j]! += x[i * d + j]!; }
    for (let c = 0; c < k; c++) if (counts[c]! > 0) for (let j = 0; j < d; j++) centers[c * d + j] = sums[c * d + j]! / counts[c]!;
  }
  const rename = new Map<number, number>();
  for (const l of labels) if (!rename.has(l)) rename.set(l, rename.size);
  return { labels: labels.map((l) => rename.get(l)!), k, iterations };
}
