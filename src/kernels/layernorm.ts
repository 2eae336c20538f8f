// LayerNorm over the last dim (one workgroup per row, row held in registers, exact two-pass stats).
import source from '../../shaders/layernorm.wgsl?raw';
import { defineKernel, type Kernel } from '../runtime/kernel.js';
import { dispatch, intermediate, type Plan, type TensorRef } from '../runtime/plan.js';
import { numel, shapeString } from '../runtime/tensor.js';
import { grid1D } from './dispatch.js';
import { WGSL_ENABLE_F16, WGSL_ENABLE_SUBGROUPS, WGSL_SUBGROUP_SUM, WGSL_TO_F16, WGSL_WORKGROUP_SUM } from './wgsl-lib.js';
import { selectVariant } from '../runtime/wgsl-variants.js';
import { requireShaderF16, type ActDType } from './matmul.js';

/**
 * How a row norm sums over its workgroup: 'workgroup' = tree in workgroup memory (every device),
 * 'subgroup' = subgroupAdd then one pass over the per-subgroup partials (needs the 'subgroups'
 * feature). Both are in shaders/lib/workgroup_sum.wgsl; they differ only in summation order.
 */
export type RowReduce = 'subgroup' | 'workgroup';
export const ROW_REDUCES: readonly RowReduce[] = ['workgroup', 'subgroup'];

/** The variants of one row-norm shader: f32/f16 (flag `f16Flag`) × workgroup/subgroup sums. */
export interface RowNormKernels { f32: Record<RowReduce, Kernel>; f16: Record<RowReduce, Kernel> }

/** `f16Name` is the f16 variants' suffix (kernel names show in profiles): `${name}${f16Name}_subgroup`. */
export function rowNormKernels(name: string, source: string, f16Flag: string, f16Name: string): RowNormKernels {
  const make = (f16: boolean, reduce: RowReduce): Kernel => {
    const sub = reduce === 'subgroup';
    const full = `${name}${f16 ? f16Name : ''}${sub ? '_subgroup' : ''}`;
    const head = (f16 ? WGSL_ENABLE_F16 : '') + (sub ? WGSL_ENABLE_SUBGROUPS : '') + (f16 ? WGSL_TO_F16 : '') + (sub ? WGSL_SUBGROUP_SUM : WGSL_WORKGROUP_SUM);
    return defineKernel({ name: full, source: head + selectVariant(source, { [f16Flag]: f16, SUBGROUPS: sub }, full) });
  };
  return {
    f32: { workgroup: make(false, 'workgroup'), subgroup: make(false, 'subgroup') },
    f16: { workgroup: make(true, 'workgroup'), subgroup: make(true, 'subgroup') },
  };
}

/** The reduction to use: `asked`, else 'subgroup' where the device has the feature; asking for 'subgroup' without it is an error. */
export function rowReduce(plan: Plan, label: string, asked?: RowReduce): RowReduce {
  const has = !!plan.gpu.features?.subgroups;
  if (asked === undefined) return has ? 'subgroup' : 'workgroup';
  if (asked !== 'subgroup' && asked !== 'workgroup') throw new Error(`${label}: unknown reduction '${String(asked)}' (use 'subgroup' or 'workgroup')`);
  if (asked === 'subgroup' && !has) throw new Error(`${label}: the subgroup reduction needs the adapter feature 'subgroups' (not enabled on this device)`);
  return asked;
}

/** LayerNorm kernels: `.f32` / `.f16` (f16 y; x and statistics f32) × workgroup / subgroup sums. */
export const layernormKernels = rowNormKernels('layernorm', source, 'Y_F16', '_yf16');
export const layernormKernel = layernormKernels.f32.workgroup;
/** f32 x and statistics, f16 y (precision 'f16'). */
export const layernormF16OutKernel = layernormKernels.f16.workgroup;

/** Registers per thread the row-norm shaders declare (shaders/{layernorm,rmsnorm,qk_rmsnorm}.wgsl MAXV). */
export const ROW_NORM_MAX_PER_THREAD = 64;
const MAX_WG = 256;

/**
 * Workgroup size and values per thread for a row of C values held in registers: a power of two
 * 32..256 threads with ≥ 4 values each where C allows, so small rows do not idle 256 threads.
 */
export function rowNormLayout(C: number, what: string): { WG: number; VPT: number } {
  if (!Number.isInteger(C) || C < 1) throw new Error(`${what}: row length must be a positive integer, got ${C}`);
  const max = MAX_WG * ROW_NORM_MAX_PER_THREAD;
  if (C > max) throw new Error(`${what}: row length ${C} exceeds ${max} (rows are held in registers: ${MAX_WG} threads × ${ROW_NORM_MAX_PER_THREAD})`);
  let WG = 32;
  while (WG < MAX_WG && WG * 4 < C) WG *= 2;
  return { WG, VPT: Math.ceil(C / WG) };
}

export function checkVector(op: string, name: string, t: TensorRef, n: number): void {
  if (t.dtype !== 'f32' || numel(t.shape) !== n) {
    throw new Error(`${op}: ${name} '${t.label}' must be f32 with ${n} elements, got ${shapeString(t.shape)} ${t.dtype}`);
  }
}

/** y's element type for a row norm: f16 needs shader-f16 (x and the statistics stay f32). */
export function normOutDType(plan: Plan, label: string, out: ActDType | undefined): ActDType {
  const dtype = out ?? 'f32';
  if (dtype !== 'f32' && dtype !== 'f16') throw new Error(`${label}: unknown output type '${String(dtype)}' (use 'f32' or 'f16')`);
  if (dtype === 'f16') requireShaderF16(plan, label, 'the output');
  return dtype;
}

/**
 * Records y = LayerNorm(x) over the last dim of x [..., C]; bias null means weight only. Returns y,
 * f32 or (out 'f16') f16; x and the statistics are f32 either way.
 */
export function layernorm(plan: Plan, x: TensorRef, weight: TensorRef, bias: TensorRef | null, eps: number, label = 'layernorm', out?: ActDType, reduce?: RowReduce): TensorRef {
  if (x.dtype !== 'f32' || x.shape.length < 1) throw new Error(`${label}: x '${x.label}' must be f32 [..., C], got ${shapeString(x.shape)} ${x.dtype}`);
  const C = x.shape[x.shape.length - 1]!;
  const rows = numel(x.shape) / C;
  checkVector(label, 'weight', weight, C);
  if (bias) checkVector(label, 'bias', bias, C);
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new Error(`${label}: eps must be a finite number ≥ 0, got ${eps}`);
  const { WG, VPT } = rowNormLayout(C, label);
  const yDType = normOutDType(plan, label, out);
  const kernel = layernormKernels[yDType][rowReduce(plan, label, reduce)];
  const y = intermediate(plan, x.shape, yDType, label);
  dispatch(plan, {
    kernel, label,
    // Without a bias the weight fills the binding (read-only aliasing is allowed) and HAS_BIAS = 0.
    bindings: { x, weight, bias: bias ?? weight, y },
    elements: { x: rows * C, weight: C, bias: C, y: rows * C },
    constants: { C, WG, VPT, EPS: eps, HAS_BIAS: bias ? 1 : 0, ROWS: rows },
    workgroups: grid1D(rows, plan.gpu.limits.maxComputeWorkgroupsPerDimension),
    flops: 8 * rows * C,
  });
  return y;
}

/** Float64 LayerNorm over rows of length C (two-pass statistics). */
export function layernormReference(x: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number> | null, C: number, eps: number): Float64Array {
  const rows = x.length / C;
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    let s = 0;
    for (let c = 0; c < C; c++) s += x[o + c]!;
    const mean = s / C;
    let q = 0;
    for (let c = 0; c < C; c++) q += (x[o + c]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(q / C + eps);
    for (let c = 0; c < C; c++) y[o + c] = (x[o + c]! - mean) * rstd * weight[c]! + (bias ? bias[c]! : 0);
  }
  return y;
}
