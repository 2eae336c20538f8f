// Resizing the checkpoint's position embedding to the patch grid of the input (bicubic, PyTorch semantics).
import source from '../../shaders/pos_embed_interp.wgsl?raw';
import { defineKernel } from '../runtime/kernel.js';
import { dispatch, intermediate, type Plan, type TensorRef } from '../runtime/plan.js';
import { numel, shapeString } from '../runtime/tensor.js';
import { ceilDiv, grid1D } from './dispatch.js';

export const posEmbedInterpKernel = defineKernel({ name: 'pos_embed_interp', source });

export interface PosInterpShape {
  /** Source grid (the checkpoint's imageSize / patchSize), rows and columns. */
  gridH: number;
  gridW: number;
  /** Target patch grid Hp × Wp. */
  outH: number;
  outW: number;
}

function checkShape(s: PosInterpShape, what: string): void {
  for (const k of ['gridH', 'gridW', 'outH', 'outW'] as const) {
    const v = s[k];
    if (!Number.isInteger(v) || v < 1) throw new Error(`${what}: ${k} must be a positive integer, got ${v}`);
  }
}

/**
 * Records the resize of position_embedding (1, gridH·gridW + 1, D) to an (outH·outW + 1, D) table:
 * row 0 (CLS) copied, the grid rows resized like F.interpolate(bicubic, align_corners=False).
 * When the grids are equal this is the identity and `pos` itself is returned (no op recorded).
 */
export function posEmbedInterp(plan: Plan, pos: TensorRef, shape: PosInterpShape, label = 'pos_embed_interp'): TensorRef {
  checkShape(shape, label);
  const { gridH, gridW, outH, outW } = shape;
  const D = pos.shape[pos.shape.length - 1]!;
  if (pos.dtype !== 'f32' || numel(pos.shape) !== (gridH * gridW + 1) * D) {
    throw new Error(`${label}: position embedding '${pos.label}' must be f32 (1, ${gridH}·${gridW}+1, D), got ${shapeString(pos.shape)} ${pos.dtype}`);
  }
  if (gridH === outH && gridW === outW) return pos;
  const count = (outH * outW + 1) * D;
  const out = intermediate(plan, [outH * outW + 1, D], 'f32', label);
  dispatch(plan, {
    kernel: posEmbedInterpKernel, label,
    bindings: { pos, out },
    elements: { pos: (gridH * gridW + 1) * D, out: count },
    constants: { IN_H: gridH, IN_W: gridW, OUT_H: outH, OUT_W: outW, D },
    workgroups: grid1D(ceilDiv(count, 256), plan.gpu.limits.maxComputeWorkgroupsPerDimension),
    flops: 40 * count,
  });
  return out;
}

/** Cubic-convolution weights (A = −0.75) of taps ⌊src⌋−1..⌊src⌋+2 for fraction t, as PyTorch writes them. */
export function cubicWeights(t: number): [number, number, number, number] {
  const A = -0.75;
  const c1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
  const c2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)];
}

/** Source taps (clamped) and weights along one axis, align_corners=False, no antialias. */
export function bicubicTaps(o: number, inSize: number, outSize: number): { idx: number[]; w: number[] } {
  const src = (inSize / outSize) * (o + 0.5) - 0.5;
  const i0 = Math.min(Math.floor(src), inSize - 1);
  const t = Math.min(Math.max(src - i0, 0), 1);
  const clampIdx = (i: number) => Math.min(Math.max(i, 0), inSize - 1);
  return { idx: [clampIdx(i0 - 1), clampIdx(i0), clampIdx(i0 + 1), clampIdx(i0 + 2)], w: cubicWeights(t) };
}

/** Float64 reference: pos (gridH·gridW + 1)·D values → (outH·outW + 1)·D values. */
export function posEmbedInterpReference(pos: ArrayLike<number>, shape: PosInterpShape, D: number): Float64Array {
  checkShape(shape, 'posEmbedInterpReference');
  const { gridH, gridW, outH, outW } = shape;
  if (pos.length !== (gridH * gridW + 1) * D) throw new Error(`posEmbedInterpReference: pos has ${pos.length} values, want ${(gridH * gridW + 1) * D}`);
  const out = new Float64Array((outH * outW + 1) * D);
  for (let d = 0; d < D; d++) out[d] = pos[d]!;
  for (let oy = 0; oy < outH; oy++) {
    const ty = bicubicTaps(oy, gridH, outH);
    for (let ox = 0; ox < outW; ox++) {
      const tx = bicubicTaps(ox, gridW, outW);
      const o = (1 + oy * outW + ox) * D;
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let j = 0; j < 4; j++) {
          let row = 0;
          for (let i = 0; i < 4; i++) row += tx.w[i]! * pos[(1 + ty.idx[j]! * gridW + tx.idx[i]!) * D + d]!;
          acc += ty.w[j]! * row;
        }
        out[o + d] = acc;
      }
    }
  }
  return out;
}
