// Multi-head attention over the fused qkv projection: out = softmax((q·hd^-0.5)·kᵀ)·v, heads
// concatenated. Two versions, both validated against the float64 reference:
//   'fused'   (default) shaders/attention.wgsl: flash-style, online softmax, scores never stored;
//             with an f16 qkv (precision 'f16') the F16 variant: f16 qkv, out and K/V tiles, f32 math.
//   'unfused' shaders/attention_scores.wgsl → softmax.wgsl → shaders/attention_pv.wgsl: the simple
//             reference pipeline, with the B·heads·N² scores in global memory.
import fusedSource from '../../shaders/attention.wgsl?raw';
import pvSource from '../../shaders/attention_pv.wgsl?raw';
import scoresSource from '../../shaders/attention_scores.wgsl?raw';
import { defineKernel } from '../runtime/kernel.js';
import { dispatch, intermediate, type Plan, type TensorRef } from '../runtime/plan.js';
import { shapeString } from '../runtime/tensor.js';
import { ceilDiv, grid1D } from './dispatch.js';
import { softmax } from './softmax.js';
import { requireShaderF16 } from './matmul.js';
import { selectVariant } from '../runtime/wgsl-variants.js';
import { WGSL_ENABLE_F16 } from './wgsl-lib.js';

export const attentionKernel = defineKernel({ name: 'attention', source: selectVariant(fusedSource, { F16: false }, 'attention') });
/** The fused kernel with f16 qkv, out and K/V tiles (scores, softmax and sums f32): precision 'f16'. */
export const attentionF16Kernel = defineKernel({ name: 'attention_f16', source: WGSL_ENABLE_F16 + selectVariant(fusedSource, { F16: true }, 'attention_f16') });
export const attentionScoresKernel = defineKernel({ name: 'attention_scores', source: scoresSource });
export const attentionPvKernel = defineKernel({ name: 'attention_pv', source: pvSource });

export type AttentionVersion = 'fused' | 'unfused';

export interface AttentionOptions {
  heads: number;
  headDim: number;
  version?: AttentionVersion;
}

/** How the fused kernel splits the work; see shaders/attention.wgsl. */
export interface AttentionTiling {
  /** Threads per query (they split the head dimension). */
  threadsPerQuery: number;
  /** vec4 columns of q and of the accumulator each thread holds (threadsPerQuery·vec4PerThread = hd/4). */
  vec4PerThread: number;
  /** Queries per workgroup. */
  blockQ: number;
  /** Keys per staged K/V block (a multiple of 4). */
  blockK: number;
  workgroupSize: number;
  /** vec4s of K (and of V) each thread stages per block. */
  loadsPerThread: number;
  workgroupBytes: number;
}

// Register arrays in the shader are sized for these (MAX_DV4, MAX_KQ, MAX_LOADS).
const MAX_VEC4_PER_THREAD = 8;
const MAX_BLOCK_K = 32;
const MAX_LOADS = 4;
/** Queries per workgroup we aim for: enough reuse of each staged K/V block. */
const TARGET_BLOCK_Q = 64;

/**
 * Tiling of the fused kernel for a head size. Each thread keeps up to 32 columns of q and of the
 * output in registers (hd 64: 2 threads per query, hd 128: 4); a workgroup owns 64 queries
 * (hd 64: 128 threads, hd 128: 256); the key block is the largest multiple of 4 (≤ 32) whose K and
 * V tiles plus the partial scores fit the workgroup memory budget (16 KiB, the WebGPU default).
 */
export function attentionTiling(headDim: number, limits: Pick<GPUSupportedLimits,
  'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupSizeX' | 'maxComputeWorkgroupStorageSize'>, elementBytes: 2 | 4 = 4): AttentionTiling {
  if (!Number.isInteger(headDim) || headDim <= 0 || headDim % 4 !== 0) {
    throw new Error(`attention (fused): headDim must be a positive multiple of 4 (vec4 loads), got ${headDim}; use version 'unfused'`);
  }
  const hd4 = headDim / 4;
  let vec4PerThread = 1;
  for (let d = Math.min(MAX_VEC4_PER_THREAD, hd4); d >= 1; d--) {
    if (hd4 % d === 0) { vec4PerThread = d; break; }
  }
  const threadsPerQuery = hd4 / vec4PerThread;
  const maxThreads = Math.min(256, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  if (threadsPerQuery > maxThreads) throw new Error(`attention (fused): headDim ${headDim} needs ${threadsPerQuery} threads per query, over the ${maxThreads} per workgroup`);
  const blockQ = Math.min(TARGET_BLOCK_Q, Math.floor(maxThreads / threadsPerQuery));
  const workgroupSize = blockQ * threadsPerQuery;
  const budget = Math.min(16384, limits.maxComputeWorkgroupStorageSize);
  const bytesPer4Keys = 4 * elementBytes * (2 * headDim) + 16 * workgroupSize; // K + V rows (f32 or f16), one f32 vec4 of partials per thread
  let blockK = 4 * Math.min(MAX_BLOCK_K / 4, Math.floor(budget / bytesPer4Keys));
  while (blockK > 4 && Math.ceil((blockK * hd4) / workgroupSize) > MAX_LOADS) blockK -= 4;
  if (blockK < 4) {
    throw new Error(`attention (fused): headDim ${headDim} does not fit ${budget} bytes of workgroup memory with 4 keys per block; use version 'unfused'`);
  }
  return {
    threadsPerQuery, vec4PerThread, blockQ, blockK, workgroupSize,
    loadsPerThread: Math.ceil((blockK * hd4) / workgroupSize),
    workgroupBytes: (blockK / 4) * bytesPer4Keys,
  };
}

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
  const version = opts.version ?? 'fused';
  const f16 = qkv.dtype === 'f16';
  if (f16) requireShaderF16(plan, label, `qkv '${qkv.label}'`);
  if (version === 'unfused') {
    if (f16) throw new Error(`${label}: the 'unfused' version is the f32 reference; f16 qkv needs 'fused'`);
    return attentionUnfused(plan, qkv, batch, n, heads, headDim, label);
  }
  if (version !== 'fused') throw new Error(`${label}: unknown version '${version as string}' (fused | unfused)`);

  const tiling = attentionTiling(headDim, plan.gpu.limits, f16 ? 2 : 4);
  // out has qkv's element type: f16 in, f16 out (it feeds the proj matmul's f16 X).
  const out = intermediate(plan, [batch, n, d], qkv.dtype, label);
  dispatch(plan, {
    kernel: f16 ? attentionF16Kernel : attentionKernel, label,
    bindings: { qkv, out },
    elements: { qkv: batch * n * 3 * d, out: batch * n * d },
    constants: {
      N: n, HEADS: heads, HEAD_DIM: headDim,
      T: tiling.threadsPerQuery, DV4: tiling.vec4PerThread, BK: tiling.blockK, WG: tiling.workgroupSize,
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
