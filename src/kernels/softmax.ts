// Row softmax over the last dimension (max subtracted, f32 sums). Used by the unfused attention.
import source from '../../shaders/softmax.wgsl?raw';
import { defineKernel, type Kernel } from '../runtime/kernel.js';
import { dispatch, intermediate, type Plan, type TensorRef } from '../runtime/plan.js';
import { numel, shapeString } from '../runtime/tensor.js';
import { ceilDiv, grid1D } from './dispatch.js';
import { selectVariant } from '../runtime/wgsl-variants.js';
import { WGSL_ENABLE_SUBGROUPS } from './wgsl-lib.js';
import { rowReduce, type RowReduce } from './layernorm.js';

/** Softmax kernels by reduction (see RowReduce): the subgroup one is used for rows of ≥ 256 threads. */
export const softmaxKernels: Record<RowReduce, Kernel> = {
  workgroup: defineKernel({ name: 'softmax', source: selectVariant(source, { SUBGROUPS: false }, 'softmax') }),
  subgroup: defineKernel({ name: 'softmax_subgroup', source: WGSL_ENABLE_SUBGROUPS + selectVariant(source, { SUBGROUPS: true }, 'softmax_subgroup') }),
};
export const softmaxKernel = softmaxKernels.workgroup;

const WORKGROUP = 256;

/** Threads per row: about 4 elements each, a power of two, at most the whole workgroup. */
export function softmaxThreadsPerRow(cols: number): number {
  let tpr = 1;
  while (tpr < WORKGROUP && tpr * 4 < cols) tpr *= 2;
  return tpr;
}

/** Records y = softmax(x) over the last dimension of x (any rank ≥ 1); returns y, shaped like x. */
export function softmax(plan: Plan, x: TensorRef, label = 'softmax', reduce?: RowReduce): TensorRef {
  if (x.dtype !== 'f32') throw new Error(`${label}: expects an f32 tensor, got '${x.label}' ${shapeString(x.shape)} ${x.dtype}`);
  if (x.shape.length < 1) throw new Error(`${label}: expects a tensor with a last dimension, got '${x.label}' ${shapeString(x.shape)}`);
  const cols = x.shape[x.shape.length - 1]!;
  const count = numel(x.shape);
  const rows = count / cols;
  const tpr = softmaxThreadsPerRow(cols);
  const y = intermediate(plan, x.shape, 'f32', label);
  dispatch(plan, {
    kernel: softmaxKernels[rowReduce(plan, label, reduce)], label,
    bindings: { x, y },
    elements: { x: count, y: count },
    constants: { ROWS: rows, C: cols, TPR: tpr },
    workgroups: grid1D(ceilDiv(rows, WORKGROUP / tpr), plan.gpu.limits.maxComputeWorkgroupsPerDimension),
    flops: 5 * count,
  });
  return y;
}

/** Float64 row softmax of a [rows, cols] array, row max subtracted. */
export function softmaxReference(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  if (x.length !== rows * cols) throw new Error(`softmaxReference: ${x.length} values is not ${rows}×${cols}`);
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, x[o + c]!);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += (y[o + c] = Math.exp(x[o + c]! - max));
    for (let c = 0; c < cols; c++) y[o + c] = y[o + c]! / sum;
  }
  return y;
}
