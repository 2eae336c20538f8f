// A user-defined kernel registered through the same API the built-in kernels use: WGSL source →
// defineKernel (bindings reflected by wgsl_reflect) → a recording function that plans can call.
import source from './scale-shift.wgsl?raw';
import { ceilDiv, defineKernel, dispatch, intermediate, type Plan, type TensorRef } from '../../src/index.js';

export const scaleShiftKernel = defineKernel({ name: 'example.scale_shift', source });

/** y = x · scale + shift over the last dimension of x. */
export function scaleShift(plan: Plan, x: TensorRef, scale: TensorRef, shift: number): TensorRef {
  const cols = x.shape[x.shape.length - 1]!;
  const rows = x.shape.reduce((a, b) => a * b, 1) / cols;
  const y = intermediate(plan, x.shape, 'f32', 'scale_shift');
  dispatch(plan, {
    kernel: scaleShiftKernel,
    bindings: { x, scale, y },
    elements: { x: rows * cols, scale: cols, y: rows * cols },
    constants: { ROWS: rows, COLS: cols, SHIFT: shift },
    workgroups: [ceilDiv(cols, 64), rows],
  });
  return y;
}

export function scaleShiftReference(x: ArrayLike<number>, scale: ArrayLike<number>, shift: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i]! * scale[i % scale.length]! + shift;
  return y;
}
