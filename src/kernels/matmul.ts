// Linear layers: Y = epilogue(X·Wᵀ + b) with W in PyTorch (out,in) layout, fused GELU and
// residual + layer-scale epilogues. X and Y may be f16 (precision 'f16': f16 operands in memory and
// in the workgroup tiles, f32 products and sums) in every version but 'naive'. The versions are
// listed in MATMUL_VERSIONS below (src/runtime/versions.ts explains the tables); each row names its
// shader and the override constants that make it that version.
import tiledSource from '../../shaders/matmul.wgsl?raw';
import blockedSource from '../../shaders/matmul_blocked.wgsl?raw';
import naiveSource from '../../shaders/matmul_naive.wgsl?raw';
import reduceSource from '../../shaders/matmul_splitk_reduce.wgsl?raw';
import operandsLib from '../../shaders/lib/matmul_operands.wgsl?raw';
import epilogueLib from '../../shaders/lib/matmul_epilogue.wgsl?raw';
import type { Gpu } from '../runtime/device.js';
import { defineKernel, type Kernel } from '../runtime/kernel.js';
import { kernelLimitViolations } from '../runtime/limits.js';
import { dispatch, hostConstant, input, intermediate, type Plan, type TensorRef } from '../runtime/plan.js';
import { numel, shapeString } from '../runtime/tensor.js';
import { availableVersions, chooseVersion, type KernelVersion, type VersionTable } from '../runtime/versions.js';
import { selectVariant, type VariantFlags } from '../runtime/wgsl-variants.js';
import { ceilDiv, grid1D } from './dispatch.js';
import dequantLib from '../../shaders/lib/dequant_w.wgsl?raw';
import { groupsPerRow, quantLayout, scalesPerRow, wordsPerRow, type QuantScheme } from '../runtime/quant.js';
import { WGSL_ENABLE_F16, WGSL_GELU as geluLib, WGSL_TO_F16, WGSL_UNPACK_BF16 as unpackBf16Lib, WGSL_UNPACK_F16 as unpackF16Lib } from './wgsl-lib.js';
import { geluScalar } from './gelu.js';

export type MatmulEpilogue = 'none' | 'gelu';
export type MatmulVersion = 'tiled' | 'tiled64' | 'tile32x128' | 'tile32x64' | 'tile128x128' | 'splitk' | 'naive';
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

const NAIVE_WG = 16;

/** Which WGSL file a version runs: matmul.wgsl, matmul_blocked.wgsl or matmul_naive.wgsl. */
export type MatmulShader = 'tiled' | 'blocked' | 'naive';

/**
 * The tile of a version: BM × BN outputs per workgroup, BK of K per step; TM × TN outputs per
 * thread (blocked shader: WG = (BM/TM)·(BN/TN) threads).
 */
export interface MatmulTile { BM: number; BN: number; BK: number; TM: number; TN: number }

export interface MatmulVersionSpec extends KernelVersion<MatmulShape> {
  readonly name: MatmulVersion;
  readonly shader: MatmulShader;
  readonly tile: MatmulTile;
  /** Split K into slices summed by a second dispatch (shaders/matmul_splitk_reduce.wgsl). */
  readonly splitK?: boolean;
  /** shaders/ file(s), for the docs and error messages. */
  readonly file: string;
}

const kernels = new Map<string, Kernel>();

/** The source choices of one matmul kernel: everything else is an override constant. */
export interface MatmulVariant {
  /** The version's shader follows from its table row ('tiled' and 'tiled64' share one). */
  version: MatmulVersion;
  /** K % 4 == 0: vec4 loads of X and W. */
  vec4: boolean;
  wDType: MatmulWeightDType;
  /** X's element type (f16: the X tile is f16 too). */
  x: ActDType;
  /** Y's element type (the split-K partial kernel always writes f32). */
  y: ActDType;
}

/** "matmul_tiled_vec4_wbf16", "matmul_blocked_vec4_wf16_xf16_yf16": f32 X/Y keep the pre-f16 names. */
export function matmulKernelName(v: MatmulVariant): string {
  const shader = versionSpec(v.version).shader;
  // int8 and int4 are one source (QBITS is an override): named 'wq'.
  const w = v.wDType === 'int8' || v.wDType === 'int4' ? 'q' : v.wDType;
  const base = shader === 'naive' ? `matmul_naive_w${w}` : `matmul_${shader}_${v.vec4 ? 'vec4' : 'scalar'}_w${w}`;
  return base + (v.x === 'f16' ? '_xf16' : '') + (v.y === 'f16' ? '_yf16' : '');
}

/** The libraries every matmul kernel with an output prepends: f16 support, GELU, the epilogue. */
function epilogueHead(yF16: boolean, f16: boolean, name: string): string {
  return (f16 ? WGSL_ENABLE_F16 + WGSL_TO_F16 : '') + geluLib + selectVariant(epilogueLib, { Y_F16: yF16 }, `${name} (matmul_epilogue)`);
}

/**
 * The kernel for one variant. WGSL cannot change a binding's element type with an override, so
 * these choices pick a source variant (`//#if VEC4`, `//#if W_PACKED`, `//#if X_F16`, `//#if
 * B_F16`, `//#if Y_F16` in shaders/lib/matmul_operands.wgsl and matmul_epilogue.wgsl) and the
 * libraries that are prepended; every shape and epilogue choice stays an override constant.
 * Defined on first use, then shared.
 */
export function matmulKernel(v: MatmulVariant): Kernel {
  const name = matmulKernelName(v);
  let k = kernels.get(name);
  if (!k) {
    const f16 = v.x === 'f16' || v.y === 'f16';
    const shader = versionSpec(v.version).shader;
    if (shader === 'naive' && f16) throw new Error(`matmul: the 'naive' version is the f32 reference; f16 X or Y needs a tiled version`);
    const quant = v.wDType === 'int8' || v.wDType === 'int4';
    const packed = v.wDType === 'bf16' || v.wDType === 'f16';
    // int8 and int4 share one source (the bit width is the QBITS override).
    const lib = v.wDType === 'bf16' ? unpackBf16Lib : v.wDType === 'f16' ? unpackF16Lib : quant ? dequantLib : '';
    const source = shader === 'naive'
      ? geluLib + lib + selectVariant(naiveSource, { W_QUANT: quant, W_PACKED: packed }, name)
      : epilogueHead(v.y === 'f16', f16, name) + lib +
        selectVariant(operandsLib, { VEC4: v.vec4, W_QUANT: quant, W_PACKED: packed, X_F16: v.x === 'f16', B_F16: v.x === 'f16' && v.wDType === 'f16' }, `${name} (matmul_operands)`) +
        (shader === 'tiled' ? tiledSource : blockedSource);
    k = defineKernel({ name, source });
    kernels.set(name, k);
  }
  return k;
}

/** The split-K reduce kernel (shaders/matmul_splitk_reduce.wgsl) for Y's type. */
export function matmulSplitKReduceKernel(y: ActDType): Kernel {
  const name = `matmul_splitk_reduce${y === 'f16' ? '_yf16' : ''}`;
  let k = kernels.get(name);
  if (!k) {
    k = defineKernel({ name, source: epilogueHead(y === 'f16', y === 'f16', name) + reduceSource });
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

/**
 * Workgroups the heuristic wants in one dispatch. WebGPU does not say how many compute units a GPU
 * has; large desktop GPUs have about 60–140 (SMs, CUs, Xe cores), each holding two or more of these
 * 128–256-thread workgroups, so 256 workgroups is about one full wave on the largest and several
 * on smaller ones. A grid below it leaves compute units idle for the whole dispatch.
 */
export const MATMUL_FILL_WORKGROUPS = 256;
/** Split-K: at most this many slices, each at least SPLITK_MIN_SLICE of K (so each slice still runs several K tiles). */
const SPLITK_MAX_SLICES = 16;
const SPLITK_MIN_SLICE = 256;

/**
 * Why `spec` cannot run `s` on this device, or null: f16 operands in the f32-only reference; its
 * kernel, specialised for the shape, over one of the device's limits (workgroup size, workgroup
 * memory, storage buffers); split-K: K too short to split, or a scratch over the binding limit.
 */
function unavailableOn(spec: MatmulVersionSpec, gpu: Gpu, s: MatmulShape): string | null {
  if (spec.shader === 'naive' && (s.x === 'f16' || s.y === 'f16')) return "the 'naive' version is the f32 reference (f16 X or Y needs a tiled version)";
  const S = spec.splitK ? splitCount(s) : 1;
  if (spec.splitK && S < 2) return `K = ${s.K} is too short to split (needs K ≥ ${2 * SPLITK_MIN_SLICE})`;
  const grid = gridOf(spec, s.M, s.N, S);
  const maxDim = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (grid.some((n) => n > maxDim)) return `its grid of ${grid.join('×')} workgroups is over this device's maxComputeWorkgroupsPerDimension ${maxDim}`;
  const kernel = matmulKernel({ version: spec.name, vec4: s.K % 4 === 0, wDType: s.w, x: s.x, y: spec.splitK ? 'f32' : s.y });
  const v = kernelLimitViolations(spec.name, kernel, shapeConstants(spec, s.M, s.N, s.K, S), gpu.limits)[0];
  if (v) return `its ${v.binding} needs ${v.bytes} for ${v.limit}, over this device's ${v.max}`;
  if (spec.splitK) {
    const bytes = 4 * S * s.M * s.N;
    if (bytes > gpu.limits.maxStorageBufferBindingSize) return `its f32 scratch of ${S} slices (${bytes} bytes) is over maxStorageBufferBindingSize ${gpu.limits.maxStorageBufferBindingSize}`;
    if (S * s.M * s.N >= 2 ** 32) return `its scratch of ${S}·${s.M}·${s.N} values is too large for u32 indices`;
  }
  return null;
}

type SpecRow = Omit<MatmulVersionSpec, 'unavailable'>;
const row = (spec: SpecRow): MatmulVersionSpec => ({ ...spec, unavailable: (gpu, s) => unavailableOn(spec, gpu, s) });
const BLOCKED = 'shaders/matmul_blocked.wgsl';

/** Every matmul version, one row each: the recorder, checks, bench, selfcheck and tuner read this. */
const SPECS: readonly MatmulVersionSpec[] = [
  row({ name: 'tiled', shader: 'tiled', tile: { BM: 64, BN: 128, BK: 16, TM: 4, TN: 8 }, file: 'shaders/matmul.wgsl',
    summary: '64×128 output tiles, 4×8 per thread, register-prefetched K tiles' }),
  row({ name: 'tiled64', shader: 'tiled', tile: { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4 }, file: 'shaders/matmul.wgsl',
    summary: 'the same shader with 64×64 tiles: twice the workgroups, for grids that would not fill a GPU' }),
  row({ name: 'tile32x128', shader: 'blocked', tile: { BM: 32, BN: 128, BK: 16, TM: 4, TN: 4 }, file: BLOCKED,
    summary: '32×128 tiles, 4×4 per thread: twice the row tiles of 64×128, for small M' }),
  row({ name: 'tile32x64', shader: 'blocked', tile: { BM: 32, BN: 64, BK: 16, TM: 4, TN: 4 }, file: BLOCKED,
    summary: '32×64 tiles, 4×4 per thread (128 threads): four times the workgroups of 64×128' }),
  row({ name: 'tile128x128', shader: 'blocked', tile: { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8 }, file: BLOCKED,
    summary: '128×128 tiles, 8×8 per thread: the most reuse per loaded value, for large M·N' }),
  row({ name: 'splitk', shader: 'blocked', tile: { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4 }, splitK: true,
    file: `${BLOCKED} + shaders/matmul_splitk_reduce.wgsl`,
    summary: 'K cut into S slices (64×64 tiles, f32 partials), then a reduce adds them and applies the epilogue: small M·N, long K' }),
  row({ name: 'naive', shader: 'naive', tile: { BM: NAIVE_WG, BN: NAIVE_WG, BK: 1, TM: 1, TN: 1 }, file: 'shaders/matmul_naive.wgsl',
    summary: 'one output per thread: the simple reference, f32 only' }),
];

function versionSpec(name: string): MatmulVersionSpec {
  const spec = SPECS.find((v) => v.name === name);
  if (!spec) throw new Error(`unknown matmul version '${name}' (one of: ${SPECS.map((v) => v.name).join(', ')})`);
  return spec;
}

/** The workgroup grid of `spec` over an M × N output in S K-slices: (N tiles, M tiles, S). */
function gridOf(spec: MatmulVersionSpec, M: number, N: number, S: number): [number, number, number] {
  return [ceilDiv(N, spec.tile.BN), ceilDiv(M, spec.tile.BM), S];
}

/** Workgroups of one dispatch of `tile` over an M × N output. */
export function matmulGrid(tile: MatmulTile, M: number, N: number): number {
  return ceilDiv(M, tile.BM) * ceilDiv(N, tile.BN);
}

/**
 * Split-K slices: enough to bring the 64×64 grid up to MATMUL_FILL_WORKGROUPS, at most
 * SPLITK_MAX_SLICES, each at least SPLITK_MIN_SLICE long; 1 means "do not split". The slices are
 * whole K tiles (KS a multiple of BK), so S = ceil(K / KS) may come out lower than asked.
 */
export function splitCount(s: Pick<MatmulShape, 'M' | 'N' | 'K'>): number {
  const tile = versionSpec('splitk').tile;
  const want = Math.ceil(MATMUL_FILL_WORKGROUPS / matmulGrid(tile, s.M, s.N));
  const S = Math.max(1, Math.min(want, SPLITK_MAX_SLICES, Math.floor(s.K / SPLITK_MIN_SLICE)));
  return Math.ceil(s.K / splitSlice(s.K, S, tile.BK));
}

function splitSlice(K: number, S: number, BK: number): number {
  return ceilDiv(ceilDiv(K, S), BK) * BK;
}

/**
 * The heuristic (no timings of any GPU in it): among the available tile versions, the blocked
 * family (shaders/matmul_blocked.wgsl) first, each family in order of arithmetic intensity (outputs
 * per loaded value, BM·BN / (BM + BN): 128×128, 32×128, 32×64, then 64×128, 64×64), take the first
 * whose grid reaches MATMUL_FILL_WORKGROUPS: big tiles where the
 * grid is large anyway, smaller ones where big tiles would leave compute units idle; when none
 * fills, the one with the most workgroups. Device limits enter through `unavailable` (a tile whose
 * workgroup size, memory or grid is over the device's limit is skipped).
 * Split-K is never the default: micro-batching promises each image's result bit for bit whatever
 * the pass size, passes of different M choose separately, and only the tile versions add an
 * output's K products in the same order (they agree bit for bit; split-K adds K slices). It runs
 * when named or tuned.
 * Why blocked first: the older 'tiled' shader (X and W loads split across thread ranges, 4×8 per
 * thread) was 1.3–2× slower than the best blocked tile at InternViT-300M's shapes on an NVIDIA H200
 * (2026-11-30, bench/results/gpu-h200-2026-11-30) and 1.1–1.5× on lavapipe; it stays for tuning.
 */
function heuristic(gpu: Gpu, s: MatmulShape): MatmulVersion {
  const byIntensity: MatmulVersion[] = ['tile128x128', 'tile32x128', 'tile32x64', 'tiled', 'tiled64'];
  const ok = new Set(availableVersions(gpu, MATMUL_VERSIONS, s).map((v) => v.name));
  const tiles = byIntensity.filter((v) => ok.has(v));
  const filling = tiles.find((v) => matmulGrid(versionSpec(v).tile, s.M, s.N) >= MATMUL_FILL_WORKGROUPS);
  if (filling) return filling;
  if (!tiles.length) {
    const why = byIntensity.map((v) => `${v}: ${versionSpec(v).unavailable?.(gpu, s)}`).join('; ');
    throw new Error(`matmul: no tiled version can run ${MATMUL_VERSIONS.key(s)} on this device (${why})`);
  }
  return tiles.reduce((a, b) => (matmulGrid(versionSpec(b).tile, s.M, s.N) > matmulGrid(versionSpec(a).tile, s.M, s.N) ? b : a));
}

export const MATMUL_VERSIONS: VersionTable<MatmulShape> & { readonly versions: readonly MatmulVersionSpec[] } = {
  kernel: 'matmul',
  versions: SPECS,
  heuristic,
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

/**
 * The shape override constants of `spec`'s kernel (the epilogue's come on top): M, N, K, and the
 * tile of the blocked shader with KS, the K of one of S slices (S = 1: all of K).
 */
function shapeConstants(spec: MatmulVersionSpec, M: number, N: number, K: number, S: number): Record<string, number> {
  if (spec.shader === 'naive') return { M, N, K };
  const { BM, BN, BK, TM, TN } = spec.tile;
  if (spec.shader === 'tiled') return { M, N, K, BN };
  return { M, N, K, BM, BN, BK, TM, TN, WG: (BM / TM) * (BN / TN), KS: splitSlice(K, S, BK) };
}

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
  const spec = versionSpec(version);
  const y = intermediate(plan, outShape, outDType, label);
  const unused = xDType === 'f32' ? x : f32Placeholder(plan);
  // Unused bindings get x when it is f32 (read-only in every specialisation; aliasing read-only
  // bindings is legal), else an f32 placeholder; the override constants remove the code that reads them.
  const epilogueBindings = { bias: bias ?? unused, r: res?.r ?? unused, scale: res?.scale ?? unused };
  const epilogueElements = { ...(bias ? { bias: N } : {}), ...(res ? { r: M * N, scale: N } : {}) };
  // A quantized W (every version): its scales at binding 6 and the layout's override constants
  // (shaders/lib/dequant_w.wgsl); w is u32 [N, words per row].
  const wElements = q ? numel(w.shape) : N * K;
  const wq: { bindings: Record<string, TensorRef>; elements: Record<string, number>; constants: Record<string, number> } = q
    ? {
      bindings: { wscale: q.scales },
      elements: { wscale: numel(q.scales.shape) },
      constants: { QBITS: q.scheme === 'int8' ? 8 : 4, KW: w.shape[1]!, GROUP: groupSize!, NG: groups! },
    }
    : { bindings: {}, elements: {}, constants: {} };
  const epilogueConstants = { M, N, HAS_BIAS: bias ? 1 : 0, EPILOGUE: epilogue === 'gelu' ? 1 : 0, HAS_RESIDUAL: res ? 1 : 0 };

  if (spec.splitK) {
    // Pass 1: S K-slices of X·Wᵀ into an f32 scratch [S, M, N], no epilogue; pass 2 adds the
    // slices in order and applies the epilogue (two dispatches, no atomics).
    const S = splitCount(shape);
    const partial = intermediate(plan, [S, M, N], 'f32', `${label} split-K partials`);
    dispatch(plan, {
      kernel: matmulKernel({ version, vec4, wDType, x: xDType, y: 'f32' }), label: `${label} (split-K ×${S})`,
      bindings: { x, w, bias: unused, r: unused, scale: unused, y: partial, ...wq.bindings },
      elements: { x: M * K, w: wElements, y: S * M * N, ...wq.elements },
      constants: { ...shapeConstants(spec, M, N, K, S), HAS_BIAS: 0, EPILOGUE: 0, HAS_RESIDUAL: 0, ...wq.constants },
      workgroups: gridOf(spec, M, N, S),
      flops: matmulFlops(M, N, K),
    });
    dispatch(plan, {
      kernel: matmulSplitKReduceKernel(outDType), label: `${label} (split-K reduce)`,
      bindings: { partial, ...epilogueBindings, y },
      elements: { partial: S * M * N, y: M * N, ...epilogueElements },
      constants: { ...epilogueConstants, SPLITS: S },
      workgroups: grid1D(ceilDiv(M * N, 256), plan.gpu.limits.maxComputeWorkgroupsPerDimension),
    });
    return y;
  }

  const kernel = matmulKernel({ version, vec4, wDType, x: xDType, y: outDType });
  dispatch(plan, {
    kernel, label,
    bindings: { x, w, ...epilogueBindings, y, ...wq.bindings },
    elements: { x: M * K, w: wElements, y: M * N, ...epilogueElements, ...wq.elements },
    constants: { ...epilogueConstants, ...shapeConstants(spec, M, N, K, 1), ...wq.constants },
    workgroups: gridOf(spec, M, N, 1),
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
