// One vector per image from the encoder's outputs: per tile the CLS row (pooler_output, 'cls') or the
// mean of the patch tokens of last_hidden_state (CLS excluded, 'mean'); an image with several tiles
// (--mode internvl) gets the mean of its tiles' vectors; --normalize then scales it to unit L2 norm.
import { meanPool } from '../../src/features/embeddings.js';

export type Pool = 'cls' | 'mean';
export const POOLS: readonly Pool[] = ['cls', 'mean'];

interface Output { data: Float32Array; shape: readonly number[] }

/** Adds tile `t`'s pooled vector (float64 sums) into `acc` (length D). */
export function addTileVector(acc: Float64Array, pool: Pool, out: { lastHiddenState: Output; poolerOutput: Output }, t: number): void {
  const D = acc.length;
  if (pool === 'cls') {
    const p = out.poolerOutput.data;
    for (let d = 0; d < D; d++) acc[d]! += p[t * D + d]!;
    return;
  }
  const [, N] = out.lastHiddenState.shape as [number, number, number];
  const tile = meanPool({ data: out.lastHiddenState.data.subarray(t * N * D, (t + 1) * N * D), shape: [1, N, D] }).data;
  for (let d = 0; d < D; d++) acc[d]! += tile[d]!;
}

/** The image's vector from its tile sum: the mean over tiles, unit length when `normalize`. */
export function finishVector(acc: Float64Array, tiles: number, normalize: boolean, out: Float32Array, offset: number): void {
  let norm = 0;
  for (let d = 0; d < acc.length; d++) norm += (acc[d]! / tiles) ** 2;
  const scale = normalize ? (norm > 0 ? 1 / Math.sqrt(norm) : 0) : 1;
  for (let d = 0; d < acc.length; d++) out[offset + d] = (acc[d]! / tiles) * scale;
}
