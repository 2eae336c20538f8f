// Standalone GELU (exact erf). The matmul kernel fuses the same function into its epilogue.
import source from '../../shaders/gelu.wgsl?raw';
import { defineKernel } from '../runtime/kernel.js';
import { dispatch, intermediate, type Plan, type TensorRef } from '../runtime/plan.js';
import { numel } from '../runtime/tensor.js';
import { ceilDiv, grid1D } from './dispatch.js';
import { WGSL_GELU } from './wgsl-lib.js';

export const geluKernel = defineKernel({ name: 'gelu', source: WGSL_GELU + source });

/** Records y = gelu(x) elementwise; returns y (same shape as x). */
export function gelu(plan: Plan, x: TensorRef, label = 'gelu'): TensorRef {
  const count = numel(x.shape);
  const y = intermediate(plan, x.shape, 'f32', label);
  dispatch(plan, {
    kernel: geluKernel, label,
    bindings: { x, y },
    elements: { x: count, y: count },
    constants: { COUNT: count },
    workgroups: grid1D(ceilDiv(count, 256), plan.gpu.limits.maxComputeWorkgroupsPerDimension),
    flops: 20 * count,
  });
  return y;
}

/** Float64 erf (Abramowitz–Stegun 7.1.26 would be too coarse for a reference): series + continued fraction. */
export function erfReference(x: number): number {
  const a = Math.abs(x);
  if (a < 2.5) {
    // Maclaurin series converges to full double precision here within ~60 terms.
    let term = x;
    let sum = x;
    for (let n = 1; n < 100; n++) {
      term *= (-x * x) / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc by Lentz's continued fraction: erfc(a) = exp(−a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + …)))).
  let f = a;
  for (let k = 60; k >= 1; k--) f = a + (k / 2) / f;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

export function geluScalar(v: number): number {
  return 0.5 * v * (1 + erfReference(v / Math.SQRT2));
}

export function geluReference(x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = geluScalar(x[i]!);
  return y;
}
