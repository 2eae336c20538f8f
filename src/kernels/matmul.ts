// Linear layers: Y = epilogue(X·Wᵀ + b) with W in PyTorch (out,in) layout, fused GELU and
// residual + layer-scale epilogues. Versions: 'tiled' (shaders/matmul.wgsl, 64×128 output tiles, the
// default), 'tiled64' (the same shader with 64×64 tiles: twice the workgroups, for grids that would
// not fill a GPU; which shapes want it is for the GPU benchmark to say) and 'naive'
// (shaders/matmul_naive.wgsl, one output per thread, kept as the simple reference).
import tiledSource from '../../shaders/matmul.wgsl?raw';
import naiveSource from '../../shaders/matmul_naive.wgsl?raw';
import { defineKernel, type Kernel } from '../runtime/kernel.js';
import { dispatch, intermediate, type Plan, type TensorRef } from '../runtime/plan.js';
import { numel, shapeString } from '../runtime/tensor.js';
import { selectVariant } from '../runtime/wgsl-variants.js';
import { ceilDiv } from './dispatch.js';
import { WGSL_GELU as geluLib, WGSL_UNPACK_BF16 as unpackBf16Lib, WGSL_UNPACK_F16 as unpackF16Lib } from './wgsl-lib.js';
import { geluScalar } from './gelu.js';

export type MatmulEpilogue = 'none' | 'gelu';
export type MatmulVersion = 'naive' | 'tiled' | 'tiled64';
/** How W is stored: f32, or 16-bit (read as packed pairs and widened to f32 in the kernel). */
export type MatmulWeightDType = 'f32' | 'bf16' | 'f16';

export interface MatmulOptions {
  /** Activation applied to X·Wᵀ + b (default 'none'). */
  epilogue?: MatmulEpilogue;
  /** Y = r + scale ⊙ activation(X·Wᵀ + b): r [..., Nout] like the output, scale [Nout]. */
  residual?: { r: TensorRef; scale: TensorRef };
  /** Kernel version (default 'tiled'); 'tiled64' halves the tile width; 'naive' is the reference. */
  version?: MatmulVersion;
  label?: string;
}

/** Output tile of one workgroup of the tiled kernel (shaders/matmul.wgsl BM × BN). */
export const MATMUL_TILE = { M: 64, N: 128, K: 16 } as const;
const NAIVE_WG = 16;

const kernels = new Map<string, Kernel>();

/**
 * The kernel for one version, vector width and weight dtype. WGSL cannot change a binding's element
 * type with an override, so these three choices pick a source variant (`//#if VEC4`, `//#if
 * W_PACKED`) and the 16-bit decoder that is prepended; every shape and epilogue choice stays an
 * override constant. Defined on first use, then shared.
 */
export function matmulKernel(version: MatmulVersion, vec4: boolean, wDType: MatmulWeightDType): Kernel {
  // 'tiled64' is the tiled kernel with another BN override: same source, same kernel.
  const name = version === 'naive' ? `matmul_naive_w${wDType}` : `matmul_tiled_${vec4 ? 'vec4' : 'scalar'}_w${wDType}`;
  let k = kernels.get(name);
  if (!k) {
    const base = version === 'naive' ? naiveSource : tiledSource;
    const flags = { VEC4: version !== 'naive' && vec4, W_PACKED: wDType !== 'f32' };
    const lib = wDType === 'bf16' ? unpackBf16Lib : wDType === 'f16' ? unpackF16Lib : '';
    k = defineKernel({ name, source: geluLib + lib + selectVariant(base, flags, name) });
    kernels.set(name, k);
  }
  return k;
}

/** Floating-point operations of an M×K by K×N product (2·M·N·K; epilogues not counted). */
export function matmulFlops(M: number, N: number, K: number): number {
  return 2 * M * N * K;
}

function requireF32(op: string, what: string, t: TensorRef, shapeOk: boolean, want: string): void {
  if (t.dtype !== 'f32' || !shapeOk) {
    throw new Error(`${op}: ${what} '${t.label}' must be f32 ${want}, got ${shapeString(t.shape)} ${t.dtype}`);
  }
}

function isWeightDType(d: string): d is MatmulWeightDType {
  return d === 'f32' || d === 'bf16' || d === 'f16';
}

/**
 * Records Y = epilogue(X·Wᵀ + b): x [..., K], w [Nout, K] (PyTorch Linear), bias [Nout] or null.
 * w may be f32, bf16 or f16 (half the bytes; widened to f32 on load, so the result equals the f32
 * kernel's on the same values). Everything else is f32. Returns Y [..., Nout] (x's leading dims
 * flattened into M for the kernel).
 */
export function matmul(plan: Plan, x: TensorRef, w: TensorRef, bias: TensorRef | null, opts: MatmulOptions = {}): TensorRef {
  const label = opts.label ?? 'matmul';
  const epilogue = opts.epilogue ?? 'none';
  const version = opts.version ?? 'tiled';
  if (epilogue !== 'none' && epilogue !== 'gelu') throw new Error(`${label}: unknown epilogue '${String(epilogue)}' (use 'none' or 'gelu')`);
  if (version !== 'tiled' && version !== 'tiled64' && version !== 'naive') {
    throw new Error(`${label}: unknown version '${String(version)}' (use 'tiled', 'tiled64' or 'naive')`);
  }
  if (!isWeightDType(w.dtype) || w.shape.length !== 2) {
    throw new Error(`${label}: w '${w.label}' must be f32, bf16 or f16 [Nout, K], got ${shapeString(w.shape)} ${w.dtype}`);
  }
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
  const kernel = matmulKernel(version, vec4, w.dtype);
  const tileN = version === 'tiled64' ? 64 : MATMUL_TILE.N;
  const workgroups: [number, number] = version === 'naive'
    ? [ceilDiv(N, NAIVE_WG), ceilDiv(M, NAIVE_WG)]
    : [ceilDiv(N, tileN), ceilDiv(M, MATMUL_TILE.M)];
  const y = intermediate(plan, outShape, 'f32', label);
  dispatch(plan, {
    kernel, label,
    // Unused bindings get x (f32 and read-only in every specialisation; aliasing read-only
    // bindings is legal); the override constants remove the code that would read them.
    bindings: { x, w, bias: bias ?? x, r: res?.r ?? x, scale: res?.scale ?? x, y },
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
      ...(version === 'naive' ? {} : { BN: tileN }),
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
