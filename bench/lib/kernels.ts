// Kernel suite: each kernel alone at InternViT's real shapes (full) or at internvit-tiny's shapes plus
// N = 1025 at a small width (quick, sized for a software adapter). Browser-safe.
//
// Timing: per-dispatch GPU time from timestamp queries (compilePlan({profile: true})) when the adapter
// has timestamp-query; otherwise wall clock of submit + onSubmittedWorkDone, said so in `timing`.
import { attention } from '../../src/kernels/attention.js';
import { layernorm } from '../../src/kernels/layernorm.js';
import { matmul, matmulFlops, type MatmulVersion } from '../../src/kernels/matmul.js';
import { toHalfBits } from '../../src/runtime/dtype.js';
import { rmsnorm } from '../../src/kernels/rmsnorm.js';
import { softmax } from '../../src/kernels/softmax.js';
import { describeAdapter } from './adapter.js';
import type { Gpu } from '../../src/runtime/device.js';
import { runPlan } from '../../src/runtime/executor.js';
import { compilePlan, createPlan, disposePlan, hostConstant, output, type Plan, type TensorRef } from '../../src/runtime/plan.js';
import { median, now, percentile, randomArray } from './stats.js';
import type { BenchOptions, BenchRecord, Runner } from './types.js';

export interface KernelCase {
  name: string;
  /** matmul: how W is stored (absent: f32). */
  weights?: 'bf16' | 'f16';
  shape: string;
  flops: number;
  /** Unique bytes read + written by one call (for effective GB/s). */
  bytes: number;
  build(plan: Plan): TensorRef;
}

interface Dims { tag: string; D: number; I: number; heads: number; hd: number; qkvBias: boolean; norm: 'layernorm' | 'rmsnorm' }

const TINY: Dims = { tag: 'tiny', D: 128, I: 512, heads: 4, hd: 32, qkvBias: true, norm: 'layernorm' };
const M300: Dims = { tag: '300M', D: 1024, I: 4096, heads: 16, hd: 64, qkvBias: true, norm: 'layernorm' };
const M6B: Dims = { tag: '6B', D: 3200, I: 12800, heads: 25, hd: 128, qkvBias: false, norm: 'rmsnorm' };

let seed = 100;
const data = (n: number, scale = 1) => randomArray(n, seed++, scale);
const f32 = (plan: Plan, label: string, shape: number[], scale = 1) =>
  hostConstant(plan, label, data(shape.reduce((a, b) => a * b, 1), scale), shape, 'f32');

/**
 * qkv, proj, fc1, fc2 of one layer, with the model's epilogues (bias, GELU, residual + layer scale);
 * `weights`: W stored 16-bit (packed pairs widened in the kernel) instead of f32; `version`: another
 * matmul version than the default 'tiled' (named in the case).
 */
function matmulCases(d: Dims, tokens: number, batch: number, weights?: 'bf16' | 'f16', version?: MatmulVersion): KernelCase[] {
  const M = tokens * batch;
  const linear = (which: string, K: number, N: number, bias: boolean, extra: 'none' | 'gelu' | 'residual'): KernelCase => ({
    name: `matmul ${d.tag} ${which} B=${batch}${weights ? ` ${weights} W` : ''}${version ? ` ${version}` : ''}`,
    ...(weights ? { weights } : {}),
    shape: `M=${M} K=${K} N=${N}${bias ? ' +bias' : ''}${extra === 'gelu' ? ' +gelu' : extra === 'residual' ? ' +residual' : ''}`,
    flops: matmulFlops(M, N, K),
    bytes: 4 * (M * K + M * N + (bias ? N : 0) + (extra === 'residual' ? M * N + N : 0)) + (weights ? 2 : 4) * N * K,
    build: (plan) => {
      const x = f32(plan, 'x', [M, K], 2);
      const w = weights
        ? hostConstant(plan, 'w', toHalfBits(data(N * K, 0.04), weights), [N, K], weights)
        : f32(plan, 'w', [N, K], 0.04);
      const b = bias ? f32(plan, 'bias', [N], 0.04) : null;
      const residual = extra === 'residual' ? { r: f32(plan, 'r', [M, N]), scale: f32(plan, 'scale', [N]) } : undefined;
      return matmul(plan, x, w, b, { epilogue: extra === 'gelu' ? 'gelu' : 'none', residual, label: which, version });
    },
  });
  return [
    linear('qkv', d.D, 3 * d.D, d.qkvBias, 'none'),
    linear('proj', d.D, d.D, true, 'residual'),
    linear('fc1', d.D, d.I, true, 'gelu'),
    linear('fc2', d.I, d.D, true, 'residual'),
  ];
}

function attentionCase(tag: string, n: number, heads: number, hd: number, batch: number, version: 'fused' | 'unfused' = 'fused'): KernelCase {
  const D = heads * hd;
  return {
    name: `attention ${tag} hd${hd}${version === 'unfused' ? ' unfused' : ''} B=${batch}`,
    shape: `B=${batch} N=${n} heads=${heads} hd=${hd}`,
    flops: 4 * batch * heads * n * n * hd,
    bytes: 4 * (batch * n * 3 * D + batch * n * D),
    build: (plan) => attention(plan, f32(plan, 'qkv', [batch, n, 3 * D], 2), { heads, headDim: hd, version }),
  };
}

function normCase(kind: 'layernorm' | 'rmsnorm', tag: string, rows: number, C: number): KernelCase {
  return {
    name: `${kind} ${tag} rows=${rows}`,
    shape: `[${rows}, ${C}]`,
    flops: (kind === 'layernorm' ? 8 : 4) * rows * C,
    bytes: 4 * (2 * rows * C + (kind === 'layernorm' ? 2 : 1) * C),
    build: (plan) => {
      const x = f32(plan, 'x', [rows, C], 4);
      const w = f32(plan, 'weight', [C]);
      return kind === 'layernorm' ? layernorm(plan, x, w, f32(plan, 'bias', [C]), 1e-6) : rmsnorm(plan, x, w, 1e-6);
    },
  };
}

/** Attention-score rows: [heads, rows, n] (rows = n for the whole score matrix). */
function softmaxCase(tag: string, heads: number, n: number, rows = n): KernelCase {
  return {
    name: `softmax ${tag} [${heads}, ${rows}, ${n}]`,
    shape: `rows=${heads * rows} cols=${n}`,
    flops: 5 * heads * rows * n,
    bytes: 4 * 2 * heads * rows * n,
    build: (plan) => softmax(plan, f32(plan, 'scores', [heads, rows, n], 8)),
  };
}

/** The cases of a mode. Quick: internvit-tiny's layer (N = 257) and N = 1025 at small widths. */
export function kernelCases(mode: 'quick' | 'full'): KernelCase[] {
  if (mode === 'quick') {
    return [
      ...matmulCases(TINY, 257, 1),
      ...matmulCases(TINY, 257, 1, 'bf16'),
      ...matmulCases(TINY, 257, 1, undefined, 'tiled64').filter((c) => c.name.includes(' proj ')),
      attentionCase('tiny', 257, TINY.heads, TINY.hd, 1),
      attentionCase('N1025', 1025, 1, 64, 1),
      normCase('layernorm', 'D128', 1025, 128),
      normCase('rmsnorm', 'D128', 1025, 128),
      softmaxCase('N1025', 1, 1025, 256),
    ];
  }
  const cases: KernelCase[] = [];
  for (const d of [M300, M6B]) for (const b of [1, 8]) cases.push(...matmulCases(d, 1025, b));
  for (const d of [M300, M6B]) for (const b of [1, 8]) cases.push(...matmulCases(d, 1025, b, 'bf16'));
  cases.push(...matmulCases(M300, 1025, 1, 'f16'));
  // 64×64 tiles where 64×128 gives the fewest workgroups (B = 1: N = 1024 is 136 of them).
  for (const d of [M300, M6B]) cases.push(...matmulCases(d, 1025, 1, undefined, 'tiled64'));
  cases.push(
    attentionCase('300M', 1025, 16, 64, 1), attentionCase('300M', 1025, 16, 64, 8),
    attentionCase('300M', 1025, 16, 64, 1, 'unfused'),
    attentionCase('6B', 1025, 25, 128, 1), attentionCase('6B', 1025, 25, 128, 8),
    normCase('layernorm', '300M', 1025, 1024), normCase('layernorm', '300M', 8 * 1025, 1024),
    normCase('rmsnorm', '6B', 1025, 3200), normCase('rmsnorm', '6B', 8 * 1025, 3200),
    softmaxCase('300M', 16, 1025),
  );
  return cases;
}

/** Times one case; a failure becomes a record with `error` (the suite goes on). */
export async function benchKernel(gpu: Gpu, c: KernelCase, opts: BenchOptions, runner: Runner): Promise<BenchRecord> {
  const base: BenchRecord = {
    suite: 'kernel', name: c.name, shape: c.shape, runtime: 'internvit-webgpu', runner, mode: opts.mode, ...(c.weights ? { weights: c.weights } : {}),
    ...describeAdapter(gpu), dtype: 'f32', median_ms: null, p90_ms: null, gflops: null, gbps: null,
    timing: '', runs: 0, date: new Date().toISOString(),
  };
  const timestamps = gpu.features.timestamps;
  let compiled;
  try {
    const plan = createPlan(gpu, c.name);
    output(plan, 'y', c.build(plan));
    compiled = await compilePlan(plan, { profile: timestamps });
    const times: number[] = [];
    for (let i = 0; i < opts.warmup + opts.kernelRuns; i++) {
      const t = now();
      await runPlan(compiled, {}, { read: [] });
      const wall = now() - t;
      const gpuMs = compiled.lastProfile?.reduce((a, op) => a + op.ms, 0);
      if (i >= opts.warmup) times.push(timestamps ? gpuMs! : wall);
    }
    const med = median(times);
    return {
      ...base,
      median_ms: med, p90_ms: percentile(times, 90),
      gflops: c.flops / med / 1e6, gbps: c.bytes / med / 1e6,
      timing: timestamps ? 'GPU time per call (timestamp queries)' : 'wall clock per call (submit + onSubmittedWorkDone; no timestamp-query)',
      runs: times.length,
      dispatches: compiled.plan.ops.filter((o) => o.type === 'dispatch').length,
    };
  } catch (e) {
    return { ...base, error: e instanceof Error ? e.message : String(e) };
  } finally {
    if (compiled) disposePlan(compiled);
  }
}

export async function runKernelSuite(
  gpu: Gpu, opts: BenchOptions, runner: Runner, onRecord: (r: BenchRecord) => void | Promise<void>,
): Promise<BenchRecord[]> {
  const out: BenchRecord[] = [];
  for (const c of kernelCases(opts.mode)) {
    if (opts.kernelFilter && !c.name.includes(opts.kernelFilter)) continue;
    const r = await benchKernel(gpu, c, opts, runner);
    out.push(r);
    await onRecord(r);
  }
  return out;
}
