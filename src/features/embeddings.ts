// What apps do with an encoder's outputs: compare embeddings (cosine similarity), pool tokens into
// one vector per image (CLS or mean), and lay patch tokens out as a (B, D, h, w) grid for dense tasks
// (segmentation or detection heads, PCA pictures: see analysis.ts / render.ts for one image's grid).
// Plain TypeScript on host arrays (the `{ data, shape }` outputs of embed()); browser-safe. Sums are
// float64, results Float32Array like the encoder's outputs.

/** A host tensor: row-major data and its shape (what embed() returns as lastHiddenState etc.). */
export interface TokenTensor {
  data: ArrayLike<number>;
  shape: readonly number[];
}

/** A Float32 host tensor made by these helpers. */
export interface PooledTensor {
  data: Float32Array;
  shape: number[];
}

/** (B, N, D) dims of last_hidden_state-like tensors, checked. */
function tokenDims(t: TokenTensor, what: string): [number, number, number] {
  const s = t.shape;
  if (s.length !== 3 || !s.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${what}: expects tokens (B, N, D) such as lastHiddenState, got shape [${s.join(', ')}]`);
  }
  const [B, N, D] = s as [number, number, number];
  if (t.data.length !== B * N * D) throw new Error(`${what}: data has ${t.data.length} values, shape [${B}, ${N}, ${D}] needs ${B * N * D}`);
  return [B, N, D];
}

/**
 * Cosine similarity of two vectors: a·b / (|a|·|b|), in [−1, 1]; 0 when either is all zeros.
 * Throws when the lengths differ.
 */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`cosineSimilarity: vectors of different lengths (${a.length} and ${b.length})`);
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

/** Token 0 of every image, (B, D): the CLS token (InternViT's pooler_output is the same). */
export function clsPool(tokens: TokenTensor): PooledTensor {
  const [B, N, D] = tokenDims(tokens, 'clsPool');
  const out = new Float32Array(B * D);
  for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) out[b * D + d] = tokens.data[b * N * D + d]!;
  return { data: out, shape: [B, D] };
}

export interface MeanPoolOptions {
  /** Average the CLS token in with the patches (default false: patch tokens only). */
  includeCls?: boolean;
}

/** The mean over tokens of every image, (B, D): patch tokens only unless includeCls. */
export function meanPool(tokens: TokenTensor, opts: MeanPoolOptions = {}): PooledTensor {
  const [B, N, D] = tokenDims(tokens, 'meanPool');
  const first = opts.includeCls ? 0 : 1;
  if (N - first < 1) throw new Error(`meanPool: ${N} token(s) leave no patch tokens after the CLS token (pass includeCls: true)`);
  const out = new Float32Array(B * D);
  const sum = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    sum.fill(0);
    for (let n = first; n < N; n++) {
      const row = (b * N + n) * D;
      for (let d = 0; d < D; d++) sum[d]! += tokens.data[row + d]!;
    }
    for (let d = 0; d < D; d++) out[b * D + d] = sum[d]! / (N - first);
  }
  return { data: out, shape: [B, D] };
}

export interface PatchFeatureGridOptions {
  /** Rows and columns of patches (default: the square grid N − 1 = h·w, as for square tiles). */
  height?: number;
  width?: number;
}

/**
 * Patch tokens (CLS dropped) as a channel-first grid (B, D, h, w): grid[b, d, y, x] = tokens[b, 1 +
 * y·w + x, d]. Works for any batch (several images, or InternVL's tiles of one image). One image's
 * grid (D, h, w), for pca()/cellSimilarity(), is imageGrid(grid, b).
 */
export function patchFeatureGrid(tokens: TokenTensor, opts: PatchFeatureGridOptions = {}): PooledTensor {
  const [B, N, D] = tokenDims(tokens, 'patchFeatureGrid');
  const patches = N - 1;
  let { height: h, width: w } = opts;
  if (h === undefined && w === undefined) {
    h = w = Math.round(Math.sqrt(patches));
    if (h * w !== patches) throw new Error(`patchFeatureGrid: ${patches} patch tokens (N = ${N} with CLS) are not a square grid; give height and width`);
  } else {
    h ??= patches / w!;
    w ??= patches / h;
  }
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1 || h * w !== patches) {
    throw new Error(`patchFeatureGrid: a ${h}×${w} grid does not hold the ${patches} patch tokens (N = ${N} with CLS)`);
  }
  const out = new Float32Array(B * D * patches);
  for (let b = 0; b < B; b++) {
    for (let p = 0; p < patches; p++) {
      const row = (b * N + 1 + p) * D;
      for (let d = 0; d < D; d++) out[(b * D + d) * patches + p] = tokens.data[row + d]!;
    }
  }
  return { data: out, shape: [B, D, h, w] };
}

/** Image b of a (B, D, h, w) grid as a (D, h, w) map (a view, no copy). */
export function imageGrid(grid: PooledTensor, b: number): PooledTensor {
  const s = grid.shape;
  if (s.length !== 4) throw new Error(`imageGrid: expects a (B, D, h, w) grid, got shape [${s.join(', ')}]`);
  const [B, D, h, w] = s as [number, number, number, number];
  if (grid.data.length !== B * D * h * w) throw new Error(`imageGrid: data has ${grid.data.length} values, shape [${s.join(', ')}] needs ${B * D * h * w}`);
  if (!Number.isInteger(b) || b < 0 || b >= B) throw new Error(`imageGrid: image ${b} is outside the batch of ${B}`);
  const size = D * h * w;
  return { data: grid.data.subarray(b * size, (b + 1) * size), shape: [D, h, w] };
}
