// Multi-head attention over the fused qkv projection: out = softmax((q·hd^-0.5)·kᵀ)·v, heads
// concatenated. The versions are listed in ATTENTION_VERSIONS below (src/runtime/versions.ts explains
// the tables); all are validated against the float64 reference (src/kernels/attention.check.ts):
//   'fused', 'fused-q4', 'fused-subgroup': shaders/attention.wgsl, flash-style, online softmax, the
//             scores never stored; with an f16 qkv (precision 'f16') f16 qkv, out and K/V tiles, f32 math.
//   'unfused' shaders/attention_scores.wgsl → softmax.wgsl → shaders/attention_pv.wgsl: the simple
//             reference pipeline, with the B·heads·N² scores in global memory (f32 only).
import fusedSource from '../../shaders/attention.wgsl?raw';
import pvSource from '../../shaders/attention_pv.wgsl?raw';
import scoresSource from '../../shaders/attention_scores.wgsl?raw';
import type { Gpu } from '../runtime/device.js';
import { defineKernel, type Kernel } from '../runtime/kernel.js';
import { dispatch, input, intermediate, type Plan, type TensorRef } from '../runtime/plan.js';
import { shapeString } from '../runtime/tensor.js';
import { chooseVersion, type VersionTable } from '../runtime/versions.js';
import { ceilDiv, grid1D } from './dispatch.js';
import { softmax } from './softmax.js';
import { requireShaderF16 } from './matmul.js';
import { selectVariant } from '../runtime/wgsl-variants.js';
import { WGSL_ENABLE_F16, WGSL_ENABLE_SUBGROUPS } from './wgsl-lib.js';

/** The fused kernel's source variants: f16 qkv/out/tiles × partial scores summed by subgroup shuffles. */
function fusedKernel(f16: boolean, subgroups: boolean): Kernel {
  const name = `attention${f16 ? '_f16' : ''}${subgroups ? '_subgroup' : ''}`;
  const head = (f16 ? WGSL_ENABLE_F16 : '') + (subgroups ? WGSL_ENABLE_SUBGROUPS : '');
  return defineKernel({ name, source: head + selectVariant(fusedSource, { F16: f16, SUBGROUPS: subgroups }, name) });
}
export const attentionKernel = fusedKernel(false, false);
/** The fused kernel with f16 qkv, out and K/V tiles (scores, softmax and sums f32): precision 'f16'. */
export const attentionF16Kernel = fusedKernel(true, false);
export const attentionSubgroupKernel = fusedKernel(false, true);
export const attentionF16SubgroupKernel = fusedKernel(true, true);
export const attentionScoresKernel = defineKernel({ name: 'attention_scores', source: scoresSource });
export const attentionPvKernel = defineKernel({ name: 'attention_pv', source: pvSource });

export type FusedAttentionVersion = 'fused' | 'fused-q4' | 'fused-subgroup';
export type AttentionVersion = FusedAttentionVersion | 'unfused';

export interface AttentionOptions {
  heads: number;
  headDim: number;
  /** Kernel version (ATTENTION_VERSIONS); default: the device's tuned choice, else the table's heuristic. */
  version?: AttentionVersion;
}

/** How a fused version works: queries per thread (register blocking) and how partial scores are summed. */
export interface FusedVariant {
  queriesPerThread: 1 | 4;
  subgroups: boolean;
}
export const FUSED_VARIANTS: Readonly<Record<FusedAttentionVersion, FusedVariant>> = {
  fused: { queriesPerThread: 1, subgroups: false },
  'fused-q4': { queriesPerThread: 4, subgroups: false },
  'fused-subgroup': { queriesPerThread: 1, subgroups: true },
};

/** How the fused kernel splits the work; see shaders/attention.wgsl. */
export interface AttentionTiling {
  /** Threads per query group (they split the head dimension). */
  threadsPerQuery: number;
  /** vec4 columns of q and of the accumulator each thread holds per query (threadsPerQuery·vec4PerThread = hd/4). */
  vec4PerThread: number;
  /** Queries each thread computes (register blocking: QB). */
  queriesPerThread: number;
  /** Queries per workgroup. */
  blockQ: number;
  /** Keys per staged K/V block (a multiple of 4), as many as the device's workgroup storage holds. */
  blockK: number;
  workgroupSize: number;
  /** vec4s of K (and of V) each thread stages per block. */
  loadsPerThread: number;
  workgroupBytes: number;
  subgroups: boolean;
}

// Register arrays in the shader are sized for these (MAX_QD, MAX_S, MAX_LOADS).
const MAX_Q_COLUMNS = 16; // QB·DV4 vec4s of q (and of the accumulator)
const MAX_BLOCK_K = 32;   // keys per block; QB·BK/4 ≤ 16 vec4s of scores
const MAX_SCORES = 16;
const MAX_LOADS = 4;
/** Queries per workgroup we aim for: enough reuse of each staged K/V block. */
const TARGET_BLOCK_Q = 64;
/** WebGPU's smallest and largest subgroup sizes: the subgroup version's T must divide the first, WG the last. */
const MIN_SUBGROUP = 4;
const MAX_SUBGROUP = 128;

type TilingLimits = Pick<GPUSupportedLimits, 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupSizeX' | 'maxComputeWorkgroupStorageSize'>;

const isPow2 = (v: number) => (v & (v - 1)) === 0;

/**
 * Tiling of a fused version for a head size. Each thread keeps up to 8 vec4 columns of q and of the
 * output per query in registers (hd 64: 2 threads per query, hd 128: 4); 'fused-q4' keeps 4 queries
 * of up to 4 columns each (hd 64: 4 threads per query group, hd 128: 8). A workgroup owns 64 queries
 * (hd 64: 128 threads, hd 128: 256; the subgroup version rounds the threads up to a multiple of 128).
 * The key block is the largest multiple of 4 (≤ 32, ≤ 16 for q4) whose K and V tiles plus the
 * partial scores (none with subgroups) fit the device's maxComputeWorkgroupStorageSize: 16 KiB under
 * WebGPU's default limits, 32 KiB on most GPUs and lavapipe, so the same shape stages twice the keys.
 */
export function attentionTiling(headDim: number, limits: TilingLimits, elementBytes: 2 | 4 = 4, variant: FusedVariant = FUSED_VARIANTS.fused): AttentionTiling {
  const what = `attention (${variant.subgroups ? 'fused-subgroup' : variant.queriesPerThread === 4 ? 'fused-q4' : 'fused'})`;
  if (!Number.isInteger(headDim) || headDim <= 0 || headDim % 4 !== 0) {
    throw new Error(`${what}: headDim must be a positive multiple of 4 (vec4 loads), got ${headDim}; use version 'unfused'`);
  }
  const qb = variant.queriesPerThread;
  const hd4 = headDim / 4;
  const maxDv4 = MAX_Q_COLUMNS / qb > 8 ? 8 : MAX_Q_COLUMNS / qb;
  let vec4PerThread = 0;
  for (let d = Math.min(maxDv4, hd4); d >= 1; d--) {
    const t = hd4 / d;
    if (hd4 % d === 0 && (!variant.subgroups || (isPow2(t) && t <= MIN_SUBGROUP))) { vec4PerThread = d; break; }
  }
  if (vec4PerThread === 0) {
    throw new Error(`${what}: headDim ${headDim} cannot be split over a power-of-two number (≤ ${MIN_SUBGROUP}) of subgroup lanes with ≤ ${maxDv4} vec4 columns each; use 'fused'`);
  }
  const threadsPerQuery = hd4 / vec4PerThread;
  const maxThreads = Math.min(256, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  if (threadsPerQuery > maxThreads) throw new Error(`${what}: headDim ${headDim} needs ${threadsPerQuery} threads per query, over the ${maxThreads} per workgroup`);
  let groups = Math.min(TARGET_BLOCK_Q / qb, Math.floor(maxThreads / threadsPerQuery));
  if (variant.subgroups) {
    groups = Math.max(groups, MAX_SUBGROUP / threadsPerQuery);
    if (groups * threadsPerQuery > maxThreads) throw new Error(`${what}: needs ${MAX_SUBGROUP} threads per workgroup (full subgroups of any size), over this device's ${maxThreads}`);
  }
  const workgroupSize = groups * threadsPerQuery;
  const budget = limits.maxComputeWorkgroupStorageSize;
  const fixedBytes = variant.subgroups ? 16 : 0; // the slot counter: 4 bytes, counted 16 after the vec4 tiles (alignment)
  // K + V rows (f32 or f16), and without subgroups one f32 vec4 of partials per thread and query.
  const bytesPer4Keys = 4 * elementBytes * (2 * headDim) + (variant.subgroups ? 0 : 16 * qb * workgroupSize);
  const maxBlockK = Math.min(MAX_BLOCK_K, (4 * MAX_SCORES) / qb);
  let blockK = 4 * Math.min(maxBlockK / 4, Math.floor((budget - fixedBytes) / bytesPer4Keys));
  while (blockK > 4 && Math.ceil((blockK * hd4) / workgroupSize) > MAX_LOADS) blockK -= 4;
  if (blockK < 4) {
    throw new Error(`${what}: headDim ${headDim} does not fit ${budget} bytes of workgroup memory with 4 keys per block; use version 'unfused'`);
  }
  return {
    threadsPerQuery, vec4PerThread, queriesPerThread: qb, blockQ: groups * qb, blockK, workgroupSize,
    loadsPerThread: Math.ceil((blockK * hd4) / workgroupSize),
    workgroupBytes: (blockK / 4) * bytesPer4Keys + fixedBytes,
    subgroups: variant.subgroups,
  };
}

/** What picks an attention version: the op's sizes and qkv's element type (the tuning key). */
export interface AttentionShape {
  batch: number;
  n: number;
  heads: number;
  headDim: number;
  dtype: 'f32' | 'f16';
}

/** Why a fused version cannot run `s` on `gpu` (its tiling's error), or null. */
function fusedUnavailable(version: FusedAttentionVersion) {
  return (gpu: Gpu, s: AttentionShape): string | null => {
    const v = FUSED_VARIANTS[version];
    if (v.subgroups && !gpu.features?.subgroups) return "needs the adapter feature 'subgroups' (not enabled on this device)";
    try {
      attentionTiling(s.headDim, gpu.limits, s.dtype === 'f16' ? 2 : 4, v);
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  };
}

function unfusedScoresBytes(s: AttentionShape): number {
  return s.batch * s.heads * s.n * s.n * 4;
}

/** Every attention version, one row each: the recorder, checks, bench, selfcheck and tuner read this. */
export const ATTENTION_VERSIONS: VersionTable<AttentionShape> = {
  kernel: 'attention',
  versions: [
    { name: 'fused', summary: 'shaders/attention.wgsl: one query per thread (2–4 threads split hd), partial scores summed in workgroup memory', unavailable: fusedUnavailable('fused') },
    { name: 'fused-q4', summary: 'the same shader, 4 queries per thread: each K/V vec4 read from workgroup memory serves 4 queries (4× the registers and partials)', unavailable: fusedUnavailable('fused-q4') },
    { name: 'fused-subgroup', summary: "the same shader, partial scores summed by subgroupShuffleXor: no partials memory or barrier, larger key blocks; needs 'subgroups'", unavailable: fusedUnavailable('fused-subgroup') },
    {
      name: 'unfused', summary: 'scores → softmax → p·v with the N² scores in global memory: the simple f32 reference',
      unavailable: (gpu, s) => {
        if (s.dtype === 'f16') return "the 'unfused' version is the f32 reference; f16 qkv needs a fused version";
        const bytes = unfusedScoresBytes(s);
        const max = gpu.limits.maxStorageBufferBindingSize;
        return bytes > max ? `the scores [${s.batch}, ${s.heads}, ${s.n}, ${s.n}] need ${bytes} bytes, over this device's ${max}-byte storage binding limit; use version 'fused'` : null;
      },
    },
  ],
  // The rule (shape and device features/limits only, never one GPU's timings):
  //  - head sizes the fused kernel cannot tile (hd not a multiple of 4) → 'unfused';
  //  - 'fused-subgroup' where the device has 'subgroups' and hd splits over ≤ 4 lanes (hd 64, 128):
  //    it does strictly less work per key block than 'fused' (no partials round trip through
  //    workgroup memory, one barrier fewer) and its freed storage holds more keys per block;
  //  - else 'fused'. 'fused-q4' trades 4× fewer workgroup-memory reads per FLOP for 4× the
  //    registers and partials; whether that wins depends on the register file and the bandwidth of
  //    workgroup memory, which no limit reports, so only tuning (timed on the device) picks it.
  heuristic(gpu, s) {
    if (s.headDim % 4 !== 0 && s.dtype === 'f32') return 'unfused';
    if (!fusedUnavailable('fused-subgroup')(gpu, s)) return 'fused-subgroup';
    return 'fused';
  },
  key: (s) => `B${s.batch} N${s.n} heads${s.heads} hd${s.headDim} ${s.dtype}`,
  trial(plan, s, version) {
    const qkv = input(plan, 'qkv', [s.batch, s.n, 3 * s.heads * s.headDim], s.dtype);
    return attention(plan, qkv, { heads: s.heads, headDim: s.headDim, version: version as AttentionVersion }, `attention ${version}`);
  },
};

function checkQkv(qkv: TensorRef, heads: number, headDim: number, label: string): [number, number, number] {
  for (const [name, v] of [['heads', heads], ['headDim', headDim]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${label}: ${name} must be a positive integer, got ${v}`);
  }
  const d = heads * headDim;
  if ((qkv.dtype !== 'f32' && qkv.dtype !== 'f16') || qkv.shape.length !== 3 || qkv.shape[2] !== 3 * d) {
    throw new Error(`${label}: qkv must be [B, N, 3·${heads}·${headDim} = ${3 * d}] f32 or f16, got '${qkv.label}' ${shapeString(qkv.shape)} ${qkv.dtype}`);
  }
  return [qkv.shape[0]!, qkv.shape[1]!, d];
}

/**
 * Records attention over qkv [B, N, 3D] (columns [q | k | v], head j at j·hd within each).
 * Returns out [B, N, D], heads concatenated (head j at columns j·hd), ready for the proj linear.
 */
export function attention(plan: Plan, qkv: TensorRef, opts: AttentionOptions, label = 'attention'): TensorRef {
  const { heads, headDim } = opts;
  const [batch, n, d] = checkQkv(qkv, heads, headDim, label);
  const f16 = qkv.dtype === 'f16';
  if (f16) requireShaderF16(plan, label, `qkv '${qkv.label}'`);
  const shape: AttentionShape = { batch, n, heads, headDim, dtype: f16 ? 'f16' : 'f32' };
  const version = chooseVersion(plan, ATTENTION_VERSIONS, shape, opts.version, label) as AttentionVersion;
  if (version === 'unfused') return attentionUnfused(plan, qkv, batch, n, heads, headDim, label);

  const variant = FUSED_VARIANTS[version];
  const tiling = attentionTiling(headDim, plan.gpu.limits, f16 ? 2 : 4, variant);
  // out has qkv's element type: f16 in, f16 out (it feeds the proj matmul's f16 X).
  const out = intermediate(plan, [batch, n, d], qkv.dtype, label);
  dispatch(plan, {
    kernel: f16 ? (variant.subgroups ? attentionF16SubgroupKernel : attentionF16Kernel) : (variant.subgroups ? attentionSubgroupKernel : attentionKernel),
    label,
    bindings: { qkv, out },
    elements: { qkv: batch * n * 3 * d, out: batch * n * d },
    constants: {
      N: n, HEADS: heads, HEAD_DIM: headDim,
      T: tiling.threadsPerQuery, DV4: tiling.vec4PerThread, QB: tiling.queriesPerThread, BK: tiling.blockK, WG: tiling.workgroupSize,
      LOADS: tiling.loadsPerThread, Q_SCALE: Math.LOG2E / Math.sqrt(headDim),
    },
    workgroups: [ceilDiv(n, tiling.blockQ), heads, batch],
    flops: 4 * batch * heads * n * n * headDim,
  });
  return out;
}

function attentionUnfused(plan: Plan, qkv: TensorRef, batch: number, n: number, heads: number, headDim: number, label: string): TensorRef {
  const d = heads * headDim;
  const scoresBytes = batch * heads * n * n * 4;
  const maxBinding = plan.gpu.limits.maxStorageBufferBindingSize;
  if (scoresBytes > maxBinding) {
    throw new Error(`${label} (unfused): the scores [${batch}, ${heads}, ${n}, ${n}] need ${scoresBytes} bytes, over this device's ` +
      `${maxBinding}-byte storage binding limit; use version 'fused'`);
  }
  const scores = intermediate(plan, [batch, heads, n, n], 'f32', `${label}.scores`);
  dispatch(plan, {
    kernel: attentionScoresKernel, label: `${label}.scores`,
    bindings: { qkv, scores },
    elements: { qkv: batch * n * 3 * d, scores: batch * heads * n * n },
    constants: { N: n, HEADS: heads, HEAD_DIM: headDim, SCALE: 1 / Math.sqrt(headDim) },
    workgroups: [ceilDiv(n, 16), ceilDiv(n, 16), batch * heads],
    flops: 2 * batch * heads * n * n * headDim,
  });
  const probs = softmax(plan, scores, `${label}.softmax`);
  const out = intermediate(plan, [batch, n, d], 'f32', label);
  dispatch(plan, {
    kernel: attentionPvKernel, label: `${label}.pv`,
    bindings: { probs, qkv, out },
    elements: { probs: batch * heads * n * n, qkv: batch * n * 3 * d, out: batch * n * d },
    constants: { BATCH: batch, N: n, HEADS: heads, HEAD_DIM: headDim },
    workgroups: grid1D(ceilDiv(batch * n * d, 64), plan.gpu.limits.maxComputeWorkgroupsPerDimension),
    flops: 2 * batch * heads * n * n * headDim,
  });
  return out;
}

/** Float64 attention over a [B, N, 3D] qkv array: softmax((q·hd^-0.5)·kᵀ)·v per head → [B, N, D]. */
export function attentionReference(qkv: ArrayLike<number>, batch: number, n: number, heads: number, headDim: number): Float64Array {
  const d = heads * headDim;
  if (qkv.length !== batch * n * 3 * d) throw new Error(`attentionReference: ${qkv.length} values is not [${batch}, ${n}, ${3 * d}]`);
  const out = new Float64Array(batch * n * d);
  const p = new Float64Array(n);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < n; i++) out.set(attentionReferenceRow(qkv, n, heads, headDim, b, i, h, p), (b * n + i) * d + h * headDim);
    }
  }
  return out;
}

/**
 * One query row of attentionReference: head h of token i in batch b (headDim values), in O(N·hd);
 * the kernel bench checks a sample of rows of full-size outputs with it. `scratch`: N values to reuse.
 */
export function attentionReferenceRow(
  qkv: ArrayLike<number>, n: number, heads: number, headDim: number, b: number, i: number, h: number, scratch = new Float64Array(n),
): Float64Array {
  const d = heads * headDim;
  const scale = 1 / Math.sqrt(headDim);
  const p = scratch;
  const q = new Float64Array(headDim);
  const out = new Float64Array(headDim);
  const qAt = (b * n + i) * 3 * d + h * headDim;
  for (let c = 0; c < headDim; c++) q[c] = qkv[qAt + c]! * scale;
  let max = -Infinity;
  for (let j = 0; j < n; j++) {
    const kAt = (b * n + j) * 3 * d + d + h * headDim;
    let s = 0;
    for (let c = 0; c < headDim; c++) s += q[c]! * qkv[kAt + c]!;
    p[j] = s;
    if (s > max) max = s;
  }
  let sum = 0;
  for (let j = 0; j < n; j++) sum += (p[j] = Math.exp(p[j]! - max));
  for (let j = 0; j < n; j++) {
    const w = p[j]! / sum;
    const vAt = (b * n + j) * 3 * d + 2 * d + h * headDim;
    for (let c = 0; c < headDim; c++) out[c] += w * qkv[vAt + c]!;
  }
  return out;
}
