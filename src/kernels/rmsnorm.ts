// RMSNorm over the last dim, and InternViT-6B's qk-normalisation (RMSNorm of the full q and k blocks).
import qkSource from '../../shaders/qk_rmsnorm.wgsl?raw';
import source from '../../shaders/rmsnorm.wgsl?raw';
import { dispatch, intermediate, type Plan, type TensorRef } from '../runtime/plan.js';
import { numel, shapeString } from '../runtime/tensor.js';
import { grid1D } from './dispatch.js';
import { requireShaderF16, type ActDType } from './matmul.js';
import { checkVector, normOutDType, rowNormKernels, rowNormLayout, rowReduce, type RowReduce } from './layernorm.js';

/** RMSNorm kernels: `.f32` / `.f16` (f16 y; x and Σx² f32) × workgroup / subgroup sums. */
export const rmsnormKernels = rowNormKernels('rmsnorm', source, 'Y_F16', '_yf16');
export const rmsnormKernel = rmsnormKernels.f32.workgroup;
/** f32 x and statistics, f16 y (precision 'f16'). */
export const rmsnormF16OutKernel = rmsnormKernels.f16.workgroup;
/** qk-norm kernels: `.f32` / `.f16` (f16 qkv in and out, f32 sums of squares) × workgroup / subgroup sums. */
export const qkRmsNormKernels = rowNormKernels('qk_rmsnorm', qkSource, 'F16', '_f16');
export const qkRmsNormKernel = qkRmsNormKernels.f32.workgroup;
export const qkRmsNormF16Kernel = qkRmsNormKernels.f16.workgroup;

function checkEps(label: string, eps: number): void {
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new Error(`${label}: eps must be a finite number ≥ 0, got ${eps}`);
}

/** Records y = x · rsqrt(mean(x²) + eps) · weight over the last dim of x [..., C]. Returns y (f32, or f16 with out 'f16'). */
export function rmsnorm(plan: Plan, x: TensorRef, weight: TensorRef, eps: number, label = 'rmsnorm', out?: ActDType, reduce?: RowReduce): TensorRef {
  if (x.dtype !== 'f32' || x.shape.length < 1) throw new Error(`${label}: x '${x.label}' must be f32 [..., C], got ${shapeString(x.shape)} ${x.dtype}`);
  const C = x.shape[x.shape.length - 1]!;
  const rows = numel(x.shape) / C;
  checkVector(label, 'weight', weight, C);
  checkEps(label, eps);
  const { WG, VPT } = rowNormLayout(C, label);
  const yDType = normOutDType(plan, label, out);
  const kernel = rmsnormKernels[yDType][rowReduce(plan, label, reduce)];
  const y = intermediate(plan, x.shape, yDType, label);
  dispatch(plan, {
    kernel, label,
    bindings: { x, weight, y },
    elements: { x: rows * C, weight: C, y: rows * C },
    constants: { C, WG, VPT, EPS: eps, ROWS: rows },
    workgroups: grid1D(rows, plan.gpu.limits.maxComputeWorkgroupsPerDimension),
    flops: 4 * rows * C,
  });
  return y;
}

/**
 * Records InternViT-6B qk-normalisation on qkv [..., 3D] laid out [q | k | v]: q and k each RMS-normed
 * over the whole D vector (not per head), v copied. Returns a new [..., 3D] tensor of qkv's type
 * (f32, or f16 with f32 sums of squares).
 */
export function qkRmsNorm(plan: Plan, qkv: TensorRef, qWeight: TensorRef, kWeight: TensorRef, eps: number, label = 'qk_rmsnorm', reduce?: RowReduce): TensorRef {
  const last = qkv.shape[qkv.shape.length - 1] ?? 0;
  if ((qkv.dtype !== 'f32' && qkv.dtype !== 'f16') || last % 3 !== 0 || last === 0) {
    throw new Error(`${label}: qkv '${qkv.label}' must be f32 or f16 [..., 3D], got ${shapeString(qkv.shape)} ${qkv.dtype}`);
  }
  const D = last / 3;
  const rows = numel(qkv.shape) / last;
  checkVector(label, 'qWeight', qWeight, D);
  checkVector(label, 'kWeight', kWeight, D);
  checkEps(label, eps);
  const { WG, VPT } = rowNormLayout(D, label);
  const f16 = qkv.dtype === 'f16';
  if (f16) requireShaderF16(plan, label, `qkv '${qkv.label}'`);
  const kernel = qkRmsNormKernels[f16 ? 'f16' : 'f32'][rowReduce(plan, label, reduce)];
  // y has qkv's element type (f16 in, f16 out: it feeds the f16 attention).
  const y = intermediate(plan, qkv.shape, qkv.dtype, label);
  const [gx, gy] = grid1D(rows, plan.gpu.limits.maxComputeWorkgroupsPerDimension);
  dispatch(plan, {
    kernel, label,
    bindings: { qkv, q_weight: qWeight, k_weight: kWeight, y },
    elements: { qkv: rows * 3 * D, q_weight: D, k_weight: D, y: rows * 3 * D },
    constants: { D, WG, VPT, EPS: eps, ROWS: rows },
    workgroups: [gx, gy, 3],
    flops: 8 * rows * D,
  });
  return y;
}

/** Float64 RMSNorm over rows of length C. */
export function rmsnormReference(x: ArrayLike<number>, weight: ArrayLike<number>, C: number, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let o = 0; o < x.length; o += C) {
    let q = 0;
    for (let c = 0; c < C; c++) q += x[o + c]! ** 2;
    const r = 1 / Math.sqrt(q / C + eps);
    for (let c = 0; c < C; c++) y[o + c] = x[o + c]! * r * weight[c]!;
  }
  return y;
}

/** Float64 qk-normalisation of rows [q | k | v] of width 3D: full-D RMSNorm of q and k, v unchanged. */
export function qkRmsNormReference(qkv: ArrayLike<number>, qWeight: ArrayLike<number>, kWeight: ArrayLike<number>, D: number, eps: number): Float64Array {
  const y = new Float64Array(qkv.length);
  for (let o = 0; o < qkv.length; o += 3 * D) {
    for (const [off, w] of [[0, qWeight], [D, kWeight]] as const) {
      let q = 0;
      for (let c = 0; c < D; c++) q += qkv[o + off + c]! ** 2;
      const r = 1 / Math.sqrt(q / D + eps);
      for (let c = 0; c < D; c++) y[o + off + c] = qkv[o + off + c]! * r * w[c]!;
    }
    for (let c = 0; c < D; c++) y[o + 2 * D + c] = qkv[o + 2 * D + c]!;
  }
  return y;
}
