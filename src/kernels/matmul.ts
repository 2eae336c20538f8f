// Linear layers: Y = epilogue(X·Wᵀ + b) with W in PyTorch (out,in) layout, fused GELU and
// residual + layer-scale epilogues. X and Y may be f16 (precision 'f16': f16 operands in memory and
// in the workgroup tiles, f32 products and sums) in the tiled versions. The versions are listed in
// MATMUL_VERSIONS below (src/runtime/versions.ts explains the tables).
import tiledSource from '../../shaders/matmul.wgsl?raw';
import naiveSource from '../../shaders/matmul_naive.wgsl?raw';
import { defineKernel, type Kernel } from '../runtime/kernel.js';
import { dispatch, hostConstant, input, intermediate, type Plan, type TensorRef } from '../runtime/plan.js';
import { numel, shapeString } from '../runtime/tensor.js';
import { chooseVersion, type VersionTable } from '../runtime/versions.js';
import { selectVariant, type VariantFlags } from '../runtime/wgsl-variants.js';
import { ceilDiv } from './dispatch.js';
import dequantLib from '../../shaders/lib/dequant_w.wgsl?raw';
import { groupsPerRow, quantLayout, scalesPerRow, wordsPerRow, type QuantScheme } from '../runtime/quant.js';
import { WGSL_ENABLE_F16, WGSL_GELU as geluLib, WGSL_TO_F16, WGSL_UNPACK_BF16 as unpackBf16Lib, WGSL_UNPACK_F16 as unpackF16Lib } from './wgsl-lib.js';
import { geluScalar } from './gelu.js';

export type MatmulEpilogue = 'none' | 'gelu';
export type MatmulVersion = 'naive' | 'tiled' | 'tiled64';
/**
 * How W is stored: f32, 16-bit (read as packed pairs and widened to f32 in the kernel), or int8 /
 * int4 with f32 scales (dequantized in the kernel's W load; src/runtime/quant.ts has the layout).
 */
export type MatmulWeightDType = 'f32' | 'bf16' | 'f16' | QuantScheme;

/** A quantized W: w is then u32 [Nout, words per row] and these say how to read it. */
export interface MatmulQuant {
  scheme: QuantScheme;
  /** Input channels per scale (int4; int8 has one scale per row). */
  groupSize: number;
  /** f32 [Nout] (int8) or [Nout, ceil(K / groupSize), 2] (int4: scale, offset). */
  scales: TensorRef;
}
/** Element type of the activations X and Y: f16 needs shader-f16 (sums stay f32 either way). */
export type ActDType = 'f32' | 'f16';

export interface MatmulOptions {
  /** Activation applied to X·Wᵀ + b (default 'none'). */
  epilogue?: MatmulEpilogue;
  /** Y = r + scale ⊙ activation(X·Wᵀ + b): r [..., Nout] like the output, scale [Nout]. */
  residual?: { r: TensorRef; scale: TensorRef };
  /** Kernel version (MATMUL_VERSIONS); default: the device's tuned choice, else the table's heuristic. */
  version?: MatmulVersion;
  /** Y's element type (default 'f32'). 'f16' needs shader-f16; a value beyond ±65504 is stored as ±inf. */
  out?: ActDType;
  /** W is int8 / int4 (weightStorage 'int8' / 'int4'): its scheme, group size and scales. */
  quant?: MatmulQuant;
  label?: string;
}

/** Output tile of one workgroup of the tiled kernel (shaders/matmul.wgsl BM × BN). */
export const MATMUL_TILE = { M: 64, N: 128, K: 16 } as const;
const NAIVE_WG = 16;

const kernels = new Map<string, Kernel>();

/** The source choices of one matmul kernel: everything else is an override constant. */
export interface MatmulVariant {
  version: MatmulVersion;
  /** K % 4 == 0: vec4 loads of X and W. */
  vec4: boolean;
  wDType: MatmulWeightDType;
  /** X's element type (f16: the X tile is f16 too). */
  x: ActDType;
  /** Y's element type. */
  y: ActDType;
}

/** "matmul_tiled_vec4_wbf16", "matmul_tiled_vec4_wf16_xf16_yf16": f32 X/Y keep the pre-f16 names. */
export function matmulKernelName(v: MatmulVariant): string {
  // int8 and int4 are one source (QBITS is an override): named 'wq'.
  const w = v.wDType === 'int8' || v.wDType === 'int4' ? 'q' : v.wDType;
  const base = v.version === 'naive' ? `matmul_naive_w${w}` : `matmul_tiled_${v.vec4 ? 'vec4' : 'scalar'}_w${w}`;
  return base + (v.x === 'f16' ? '_xf16' : '') + (v.y === 'f16' ? '_yf16' : '');
}

/**
 * The kernel for one variant. WGSL cannot change a binding's element type with an override, so
 * these choices pick a source variant (`//#if VEC4`, `//#if W_PACKED`, `//#if X_F16`, `//#if
 * B_F16`, `//#if Y_F16`) and the libraries that are prepended; every shape and epilogue choice stays
 * an override constant. Defined on first use, then shared.
 */
export function matmulKernel(v: MatmulVariant): Kernel {
  const name = matmulKernelName(v);
  let k = kernels.get(name);
  if (!k) {
    const f16 = v.x === 'f16' || v.y === 'f16';
    if (v.version === 'naive' && f16) throw new Error(`matmul: the 'naive' version is the f32 reference; f16 X or Y needs 'tiled' or 'tiled64'`);
    const base = v.version === 'naive' ? naiveSource : tiledSource;
    const quant = v.wDType === 'int8' || v.wDType === 'int4';
    const packed = v.wDType === 'bf16' || v.wDType === 'f16';
    const flags: VariantFlags = v.version === 'naive'
      ? { VEC4: false, W_QUANT: quant, W_PACKED: packed }
      : { VEC4: v.vec4, W_QUANT: quant, W_PACKED: packed, X_F16: v.x === 'f16', B_F16: v.x === 'f16' && v.wDType === 'f16', Y_F16: v.y === 'f16' };
    // int8 and int4 share one source (the bit width is the QBITS override).
    const lib = v.wDType === 'bf16' ? unpackBf16Lib : v.wDType === 'f16' ? unpackF16Lib : quant ? dequantLib : '';
    const head = f16 ? WGSL_ENABLE_F16 + WGSL_TO_F16 : '';
    k = defineKernel({ name, source: head + geluLib + lib + selectVariant(base, flags, name) });
    kernels.set(name, k);
  }
  return k;
}

/** Floating-point operations of an M×K by K×N product (2·M·N·K; epilogues not counted). */
export function matmulFlops(M: number, N: number, K: number): number {
  return 2 * M * N * K;
}

/** What picks a matmul version: the op's sizes and dtypes (the tuning key). */
export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  w: MatmulWeightDType;
  x: ActDType;
  y: ActDType;
  epilogue: MatmulEpilogue;
  residual: boolean;
  bias: boolean;
  /** int4 only: input channels per scale. */
  groupSize?: number;
}

const f32Only = (_gpu: unknown, s: MatmulShape): string | null =>
  s.x === 'f16' || s.y === 'f16' ? "the 'naive' version is the f32 reference (f16 X or Y needs a tiled version)" : null;

/** Every matmul version, one row each: the recorder, checks, bench, selfcheck and tuner read this. */
export const MATMUL_VERSIONS: VersionTable<MatmulShape> = {
  kernel: 'matmul',
  versions: [
    { name: 'tiled', summary: 'shaders/matmul.wgsl, 64×128 output tiles, 4×8 per thread: the default' },
    { name: 'tiled64', summary: 'the same shader with 64×64 tiles: twice the workgroups, for grids that would not fill a GPU' },
    { name: 'naive', summary: 'shaders/matmul_naive.wgsl, one output per thread: the simple reference, f32 only', unavailable: f32Only },
  ],
  heuristic: () => 'tiled',
  key: (s) => `M${s.M} N${s.N} K${s.K} w${s.w}${s.w === 'int4' ? ` g${s.groupSize}` : ''} x${s.x} y${s.y}${s.epilogue === 'gelu' ? ' gelu' : ''}${s.residual ? ' residual' : ''}${s.bias ? ' bias' : ''}`,
  trial(plan, s, version) {
    const x = input(plan, 'x', [s.M, s.K], s.x);
    let w: TensorRef;
    let quant: MatmulQuant | undefined;
    if (s.w === 'int8' || s.w === 'int4') {
      const l = quantLayout(s.w, s.N, s.K, s.groupSize);
      w = input(plan, 'w', [s.N, wordsPerRow(l)], 'u32');
      quant = { scheme: s.w, groupSize: l.groupSize, scales: input(plan, 'w scales', [s.N * scalesPerRow(l)], 'f32') };
    } else {
      w = input(plan, 'w', [s.N, s.K], s.w);
    }
    const bias = s.bias ? input(plan, 'bias', [s.N], 'f32') : null;
    const residual = s.residual ? { r: input(plan, 'r', [s.M, s.N], 'f32'), scale: input(plan, 'scale', [s.N], 'f32') } : undefined;
    return matmul(plan, x, w, bias, { epilogue: s.epilogue, out: s.y, version: version as MatmulVersion, ...(residual ? { residual } : {}), ...(quant ? { quant } : {}), label: `matmul ${version}` });
  },
};

function requireF32(op: string, what: string, t: TensorRef, shapeOk: boolean, want: string, dtypes: readonly string[] = ['f32']): void {
  if (!dtypes.includes(t.dtype) || !shapeOk) {
    throw new Error(`${op}: ${what} '${t.label}' must be ${dtypes.join(' or ')} ${want}, got ${shapeString(t.shape)} ${t.dtype}`);
  }
}

/** Requires shader-f16 on the plan's device for an f16 binding (a clear error, not a WGSL failure). */
export function requireShaderF16(plan: Plan, label: string, what: string): void {
  if (!plan.gpu.features?.shaderF16) {
    throw new Error(`${label}: ${what} is f16, which needs the adapter feature 'shader-f16' (not enabled on this device)`);
  }
}

/**
 * An f32 tensor to fill bindings an op does not read (their code is removed by an override). Kernels
 * bind x there when x is f32; with f16 activations this one plan-wide 4-element constant stands in.
 */
const placeholders = new WeakMap<Plan, TensorRef>();
export function f32Placeholder(plan: Plan): TensorRef {
  let ref = placeholders.get(plan);
  if (!ref) placeholders.set(plan, (ref = hostConstant(plan, 'unused (f32 placeholder)', new Float32Array(4), [4], 'f32')));
  return ref;
}

function isFloatWeight(d: string): d is 'f32' | 'bf16' | 'f16' {
  return d === 'f32' || d === 'bf16' || d === 'f16';
}

/** W's logical [N, K] and storage: float W is [N, K]; a quantized W is u32 [N, words] with `quant`. */
function weightOf(label: string, x: TensorRef, w: TensorRef, quant: MatmulQuant | undefined): { N: number; K: number; wDType: MatmulWeightDType; groupSize?: number; groups?: number } {
  if (!quant) {
    if (!isFloatWeight(w.dtype) || w.shape.length !== 2) {
      throw new Error(`${label}: w '${w.label}' must be f32, bf16 or f16 [Nout, K], got ${shapeString(w.shape)} ${w.dtype}`);
    }
    return { N: w.shape[0]!, K: w.shape[1]!, wDType: w.dtype };
  }
  const K = x.shape[x.shape.length - 1] ?? 0;
  const l = quantLayout(quant.scheme, w.shape[0] ?? 0, K, quant.groupSize);
  if (w.dtype !== 'u32' || w.shape.length !== 2 || w.shape[1] !== wordsPerRow(l)) {
    throw new Error(`${label}: ${quant.scheme} w '${w.label}' must be u32 [Nout, ${wordsPerRow(l)}] (K ${K} packed ${32 / (quant.scheme === 'int8' ? 8 : 4)} per word), got ${shapeString(w.shape)} ${w.dtype}`);
  }
  const s = quant.scales;
  if (s.dtype !== 'f32' || numel(s.shape) !== l.rows * scalesPerRow(l)) {
    throw new Error(`${label}: ${quant.scheme} scales '${s.label}' must be f32 with ${l.rows} × ${scalesPerRow(l)} values, got ${shapeString(s.shape)} ${s.dtype}`);
  }
  return { N: l.rows, K, wDType: quant.scheme, groupSize: l.groupSize, groups: groupsPerRow(l) };
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
  if (epilogue !== 'none' && epilogue !== 'gelu') throw new Error(`${label}: unknown epilogue '${String(epilogue)}' (use 'none' or 'gelu')`);
  const q = opts.quant;
  const { N, K, wDType, groupSize, groups } = weightOf(label, x, w, q);
  requireF32(label, 'x', x, x.shape.length >= 1 && x.shape[x.shape.length - 1] === K, `[..., ${K}] (K from w ${shapeString(w.shape)})`, ['f32', 'f16']);
  const outDType = opts.out ?? 'f32';
  if (outDType !== 'f32' && outDType !== 'f16') throw new Error(`${label}: unknown output type '${String(outDType)}' (use 'f32' or 'f16')`);
  if (x.dtype === 'f16') requireShaderF16(plan, label, `x '${x.label}'`);
  if (outDType === 'f16') requireShaderF16(plan, label, 'the output');
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
  const xDType = x.dtype as ActDType;
  const shape: MatmulShape = { M, N, K, w: wDType, x: xDType, y: outDType, epilogue, residual: !!res, bias: !!bias, ...(wDType === 'int4' ? { groupSize } : {}) };
  const version = chooseVersion(plan, MATMUL_VERSIONS, shape, opts.version, label) as MatmulVersion;
  const kernel = matmulKernel({ version, vec4, wDType, x: xDType, y: outDType });
  const tileN = version === 'tiled64' ? 64 : MATMUL_TILE.N;
  const workgroups: [number, number] = version === 'naive'
    ? [ceilDiv(N, NAIVE_WG), ceilDiv(M, NAIVE_WG)]
    : [ceilDiv(N, tileN), ceilDiv(M, MATMUL_TILE.M)];
  const y = intermediate(plan, outShape, outDType, label);
  const unused = xDType === 'f32' ? x : f32Placeholder(plan);
  dispatch(plan, {
    kernel, label,
    // Unused bindings get x when it is f32 (read-only in every specialisation; aliasing read-only
    // bindings is legal), else an f32 placeholder; the override constants remove the code that reads them.
    bindings: { x, w, bias: bias ?? unused, r: res?.r ?? unused, scale: res?.scale ?? unused, y, ...(q ? { wscale: q.scales } : {}) },
    elements: {
      x: M * K, w: q ? numel(w.shape) : N * K, y: M * N,
      ...(q ? { wscale: numel(q.scales.shape) } : {}),
      ...(bias ? { bias: N } : {}),
      ...(res ? { r: M * N, scale: N } : {}),
    },
    constants: {
      M, N, K,
      HAS_BIAS: bias ? 1 : 0,
      EPILOGUE: epilogue === 'gelu' ? 1 : 0,
      HAS_RESIDUAL: res ? 1 : 0,
      ...(version === 'naive' ? {} : { BN: tileN }),
      ...(q ? { QBITS: q.scheme === 'int8' ? 8 : 4, KW: w.shape[1]!, GROUP: groupSize!, NG: groups! } : {}),
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
