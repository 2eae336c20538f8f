// Linear layers: Y = epilogue(X·Wᵀ + b) with W in PyTorch (out,in) layout, fused GELU and
// residual + layer-scale epilogues. Two versions: 'tiled' (shaders/matmul.wgsl, the fast one) and
// 'naive' (shaders/matmul_naive.wgsl, one output per thread, kept as the simple reference).
import geluLib from '../../shaders/lib/gelu_erf.wgsl?raw';
import tiledSource from '../../shaders/matmul.wgsl?raw';
import naiveSource from '../../shaders/matmul_naive.wgsl?raw';
import { defineKernel, type Kernel } from '../runtime/kernel.js';
import { dispatch, intermediate, type Plan, type TensorRef } from '../runtime/plan.js';
import { numel, shapeString } from '../runtime/tensor.js';
import { ceilDiv } from './dispatch.js';
import { geluScalar } from './gelu.js';

export type MatmulEpilogue = 'none' | 'gelu';
export type MatmulVersion = 'naive' | 'tiled';

export interface MatmulOptions {
  /** Activation applied to X·Wᵀ + b (default 'none'). */
  epilogue?: MatmulEpilogue;
  /** Y = r + scale ⊙ activation(X·Wᵀ + b): r [..., Nout] like the output, scale [Nout]. */
  residual?: { r: TensorRef; scale: TensorRef };
  /** Kernel version (default 'tiled'); 'naive' exists for comparison and as a reference. */
  version?: MatmulVersion;
  label?: string;
}

/** Output tile of one workgroup of the tiled kernel (shaders/matmul.wgsl BM × BN). */
export const MATMUL_TILE = { M: 64, N: 128, K: 16 } as const;
const NAIVE_WG = 16;

/**
 * Keeps one `//#if VEC4 … //#else … //#endif` block of a shader. WGSL cannot change a binding's
 * element type with an override, and vec4 loads need vec4-typed bindings, so this one choice is
 * made on the source; every shape and epilogue choice stays an override constant.
 */
export function selectVariant(source: string, vec4: boolean): string {
  const re = /^\/\/#if VEC4\n([\s\S]*?)^\/\/#else\n([\s\S]*?)^\/\/#endif\n/m;
  const match = re.exec(source);
  if (!match) throw new Error('matmul: shader has no //#if VEC4 … //#else … //#endif block');
  return source.replace(re, vec4 ? match[1]! : match[2]!);
}

export const matmulKernels: Record<'tiledVec4' | 'tiledScalar' | 'naive', Kernel> = {
  tiledVec4: defineKernel({ name: 'matmul_tiled_vec4', source: geluLib + selectVariant(tiledSource, true) }),
  tiledScalar: defineKernel({ name: 'matmul_tiled_scalar', source: geluLib + selectVariant(tiledSource, false) }),
  naive: defineKernel({ name: 'matmul_naive', source: geluLib + naiveSource }),
};

/** Floating-point operations of an M×K by K×N product (2·M·N·K; epilogues not counted). */
export function matmulFlops(M: number, N: number, K: number): number {
  return 2 * M * N * K;
}

function requireF32(op: string, what: string, t: TensorRef, shapeOk: boolean, want: string): void {
  if (t.dtype !== 'f32' || !shapeOk) {
    throw new Error(`${op}: ${what} '${t.label}' must be f32 ${want}, got ${shapeString(t.shape)} ${t.dtype}`);
  }
}

/**
 * Records Y = epilogue(X·Wᵀ + b): x [..., K], w [Nout, K] (PyTorch Linear), bias [Nout] or null.
 * Returns Y [..., Nout] (x's leading dims flattened into M for the kernel).
 */
export function matmul(plan: Plan, x: TensorRef, w: TensorRef, bias: TensorRef | null, opts: MatmulOptions = {}): TensorRef {
  const label = opts.label ?? 'matmul';
  const epilogue = opts.epilogue ?? 'none';
  const version = opts.version ?? 'tiled';
  if (epilogue !== 'none' && epilogue !== 'gelu') throw new Error(`${label}: unknown epilogue '${String(epilogue)}' (use 'none' or 'gelu')`);
  if (version !== 'tiled' && version !== 'naive') throw new Error(`${label}: unknown version '${String(version)}' (use 'tiled' or 'naive')`);
  requireF32(label, 'w', w, w.shape.length === 2, '[Nout, K]');
  const [N, K] = w.shape as [number, number];
  requireF32(label, 'x', x, x.shape.length >= 1 && x.shape[x.shape.length - 1] === K, `[..., ${K}] (K from w ${shapeString(w.shape)})`);
  const M = numel(x.shape) / K;
  if (bias) requireF32(label, 'bias', bias, numel(bias.shape) === N && bias.shape.length === 1, `[${N}]`);
  const outShape = [...x.shape.slice(0, -1), N];
  const res = opts.residual;
  if (res) {
    requireF32(label, 'residual r', res.r, numel(res.r.shape) === M * N && res.r.shape[res.r.shape.length - 1] === N, `${shapeString(outShape)} (or [${M}, ${N}])`);
    requireF32(label, 'residual scale', res.scale, numel(res.scale.shape) === N && res.scale.shape.length === 1, `[${N}]`);
  }
  if (M * Math.max(K, N) >= 2 ** 32 || N * K >= 2 ** 32) {
    throw new Error(`${label}: ${M}×${K} by ${N}×${K} is too large for the kernel's u32 indices`);
  }

  const vec4 = K % 4 === 0;
  const kernel = version === 'naive' ? matmulKernels.naive : vec4 ? matmulKernels.tiledVec4 : matmulKernels.tiledScalar;
  const workgroups: [number, number] = version === 'naive'
    ? [ceilDiv(N, NAIVE_WG), ceilDiv(M, NAIVE_WG)]
    : [ceilDiv(N, MATMUL_TILE.N), ceilDiv(M, MATMUL_TILE.M)];
  const y = intermediate(plan, outShape, 'f32', label);
  dispatch(plan, {
    kernel, label,
    // Unused bindings get w (read-only in every specialisation; aliasing read-only bindings is
    // legal); the override constants remove the code that would read them.
    bindings: { x, w, bias: bias ?? w, r: res?.r ?? w, scale: res?.scale ?? w, y },
    elements: {
      x: M * K, w: N * K, y: M * N,
      ...(bias ? { bias: N } : {}),
      ...(res ? { r: M * N, scale: N } : {}),
    },
    constants: {
      M, N, K,
      HAS_BIAS: bias ? 1 : 0,
      EPILOGUE: epilogue === 'gelu' ? 1 : 0,
      HAS_RESIDUAL: res ? 1 : 0,
    },
    workgroups,
    flops: matmulFlops(M, N, K),
  });
  return y;
}

export interface MatmulReferenceOptions {
  epilogue?: MatmulEpilogue;
  residual?: { r: ArrayLike<number>; scale: ArrayLike<number> };
}

/** Float64 Y = epilogue(X·Wᵀ + b), same epilogue order as the kernels. x [M, K], w [N, K]. */
export function matmulReference(
  x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | null,
  M: number, N: number, K: number, opts: MatmulReferenceOptions = {},
): Float64Array {
  if (x.length !== M * K || w.length !== N * K || (bias && bias.length !== N)) {
    throw new Error(`matmulReference: sizes x ${x.length}, w ${w.length}, bias ${bias?.length ?? 'null'} do not fit M=${M} N=${N} K=${K}`);
  }
  const res = opts.residual;
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[m * K + k]! * w[n * K + k]!;
      if (bias) acc += bias[n]!;
      if (opts.epilogue === 'gelu') acc = geluScalar(acc);
      if (res) acc = res.r[m * N + n]! + res.scale[n]! * acc;
      y[m * N + n] = acc;
    }
  }
  return y;
}
