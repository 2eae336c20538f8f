// InternViT embeddings: patch Conv2d as a fused GEMM + conv bias + class token + (interpolated) position.
import source from '../../shaders/patch_embed.wgsl?raw';
import { defineKernel } from '../runtime/kernel.js';
import { dispatch, intermediate, type Plan, type TensorRef } from '../runtime/plan.js';
import { numel, shapeString } from '../runtime/tensor.js';
import { ceilDiv } from './dispatch.js';
import { posEmbedInterp, posEmbedInterpReference } from './pos-embed.js';

export const patchEmbedKernel = defineKernel({ name: 'patch_embed', source });

/** Tile of the GEMM in shaders/patch_embed.wgsl (BM × BN outputs per workgroup). */
const TILE = 64;

export interface PatchEmbedWeights<T> {
  /** embeddings.patch_embedding.weight (D, 3, p, p). */
  patchWeight: T;
  /** embeddings.patch_embedding.bias (D). */
  patchBias: T;
  /** embeddings.class_embedding (1, 1, D). */
  classEmbedding: T;
  /** embeddings.position_embedding (1, (imageSize/p)² + 1, D). */
  positionEmbedding: T;
}

export interface PatchEmbedConfig {
  patchSize: number;
  /** The checkpoint's image size: the position table is a (imageSize/patchSize)² grid. */
  imageSize: number;
  hidden: number;
}

/** Patch grid of an H×W image: pixels beyond Hp·p, Wp·p are ignored, as Conv2d with stride p does. */
export function patchGrid(H: number, W: number, patchSize: number): { Hp: number; Wp: number; tokens: number } {
  const Hp = Math.floor(H / patchSize);
  const Wp = Math.floor(W / patchSize);
  return { Hp, Wp, tokens: Hp * Wp + 1 };
}

function checkConfig(cfg: PatchEmbedConfig, label: string): number {
  const { patchSize: p, imageSize } = cfg;
  for (const k of ['patchSize', 'imageSize', 'hidden'] as const) {
    const v = cfg[k];
    if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${k} must be a positive integer, got ${v}`);
  }
  if (imageSize % p !== 0) throw new Error(`${label}: imageSize ${imageSize} is not a multiple of patchSize ${p}`);
  return imageSize / p;
}

function checkImage(shape: readonly number[], p: number, label: string, what: string): [number, number, number] {
  if (shape.length !== 4 || shape[1] !== 3) throw new Error(`${label}: ${what} must be [B, 3, H, W], got ${shapeString(shape)}`);
  const [B, , H, W] = shape as [number, number, number, number];
  if (H < p || W < p) throw new Error(`${label}: ${what} ${shapeString(shape)} is smaller than one ${p}×${p} patch`);
  return [B, H, W];
}

/**
 * Records the embeddings: pixels [B, 3, H, W] f32 → tokens [B, Hp·Wp + 1, D] (class token first,
 * then patches row-major), position embedding included (bicubic-resized when Hp×Wp ≠ the checkpoint grid).
 */
export function patchEmbed(plan: Plan, pixels: TensorRef, weights: PatchEmbedWeights<TensorRef>, cfg: PatchEmbedConfig, label = 'patch_embed'): TensorRef {
  const G = checkConfig(cfg, label);
  const { patchSize: p, hidden: D } = cfg;
  if (pixels.dtype !== 'f32') throw new Error(`${label}: pixels '${pixels.label}' must be f32, got ${pixels.dtype}`);
  const [B, H, W] = checkImage(pixels.shape, p, label, `pixels '${pixels.label}'`);
  const K = 3 * p * p;
  const want: [keyof PatchEmbedWeights<TensorRef>, number, string][] = [
    ['patchWeight', D * K, `(${D}, 3, ${p}, ${p})`],
    ['patchBias', D, `(${D})`],
    ['classEmbedding', D, `(1, 1, ${D})`],
    ['positionEmbedding', (G * G + 1) * D, `(1, ${G * G + 1}, ${D})`],
  ];
  for (const [name, n, desc] of want) {
    const t = weights[name];
    if (t.dtype !== 'f32' || numel(t.shape) !== n) {
      throw new Error(`${label}: ${name} '${t.label}' must be f32 ${desc}, got ${shapeString(t.shape)} ${t.dtype}`);
    }
  }
  const { Hp, Wp, tokens } = patchGrid(H, W, p);
  const pos = posEmbedInterp(plan, weights.positionEmbedding, { gridH: G, gridW: G, outH: Hp, outW: Wp }, `${label}:pos`);
  const M = B * tokens;
  const out = intermediate(plan, [B, tokens, D], 'f32', label);
  dispatch(plan, {
    kernel: patchEmbedKernel, label,
    bindings: { pixels, weight: weights.patchWeight, bias: weights.patchBias, cls: weights.classEmbedding, pos, out },
    elements: { pixels: B * 3 * H * W, weight: D * K, bias: D, cls: D, pos: tokens * D, out: M * D },
    constants: { B, H, W, P: p, WP: Wp, NTOK: tokens, D },
    workgroups: [ceilDiv(D, TILE), ceilDiv(M, TILE)],
    flops: 2 * B * Hp * Wp * D * K,
  });
  return out;
}

/** Float64 reference of the embeddings: [B, 3, H, W] → [B, Hp·Wp + 1, D] (conv, bias, CLS, position). */
export function patchEmbedReference(
  pixels: ArrayLike<number>, shape: readonly number[], weights: PatchEmbedWeights<ArrayLike<number>>, cfg: PatchEmbedConfig,
): Float64Array {
  const G = checkConfig(cfg, 'patchEmbedReference');
  const { patchSize: p, hidden: D } = cfg;
  const [B, H, W] = checkImage(shape, p, 'patchEmbedReference', 'pixels');
  const { Hp, Wp, tokens } = patchGrid(H, W, p);
  const pos = Hp === G && Wp === G
    ? Float64Array.from(weights.positionEmbedding)
    : posEmbedInterpReference(weights.positionEmbedding, { gridH: G, gridW: G, outH: Hp, outW: Wp }, D);
  const { patchWeight: w, patchBias: bias, classEmbedding: cls } = weights;
  const K = 3 * p * p;
  const out = new Float64Array(B * tokens * D);
  const patch = new Float64Array(K);
  for (let b = 0; b < B; b++) {
    for (let n = 0; n < D; n++) out[b * tokens * D + n] = cls[n]! + pos[n]!;
    for (let y = 0; y < Hp; y++) {
      for (let x = 0; x < Wp; x++) {
        for (let c = 0; c < 3; c++) {
          for (let ky = 0; ky < p; ky++) {
            for (let kx = 0; kx < p; kx++) {
              patch[(c * p + ky) * p + kx] = pixels[((b * 3 + c) * H + y * p + ky) * W + x * p + kx]!;
            }
          }
        }
        const t = 1 + y * Wp + x;
        for (let n = 0; n < D; n++) {
          let s = bias[n]!;
          for (let k = 0; k < K; k++) s += patch[k]! * w[n * K + k]!;
          out[(b * tokens + t) * D + n] = s + pos[t * D + n]!;
        }
      }
    }
  }
  return out;
}
