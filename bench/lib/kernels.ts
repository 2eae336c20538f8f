// Kernel suite: each kernel alone at InternViT's real shapes (full) or at internvit-tiny's shapes plus
// N = 1025 at a small width (quick, sized for a software adapter). Browser-safe.
//
// Timing: per-dispatch GPU time from timestamp queries (compilePlan({profile: true})) when the adapter
// has timestamp-query; otherwise wall clock of submit + onSubmittedWorkDone, said so in `timing`.
import { attention, attentionReferenceRow, type AttentionVersion } from '../../src/kernels/attention.js';
import { layernorm, layernormReference } from '../../src/kernels/layernorm.js';
import { matmul, matmulFlops, matmulReference, type MatmulVersion } from '../../src/kernels/matmul.js';
import { halfBitsToF32, toHalfBits } from '../../src/runtime/dtype.js';
import { rmsnorm, rmsnormReference } from '../../src/kernels/rmsnorm.js';
import { softmax, softmaxReference } from '../../src/kernels/softmax.js';
import { describeAdapter } from './adapter.js';
import type { Gpu } from '../../src/runtime/device.js';
import { runPlan } from '../../src/runtime/executor.js';
import { compilePlan, createPlan, disposePlan, hostConstant, output, type Plan } from '../../src/runtime/plan.js';
import { ATOL, f16Values, formatResult, RTOL_F16_OUT } from '../../src/kernels/check-harness.js';
import { checkSample, type CaseOutput } from './sample-check.js';
import { median, now, percentile, randomArray } from './stats.js';
import { warmUp } from '../../src/runtime/warm-up.js';
import type { BenchOptions, BenchRecord, Runner } from './types.js';

export interface KernelCase {
  name: string;
  /** matmul: how W is stored (absent: f32). */
  weights?: 'bf16' | 'f16';
  /** f16: f16 activations (precision 'f16'; needs shader-f16), f32 sums. Absent: f32. */
  precision?: 'f16';
  shape: string;
  flops: number;
  /** Unique bytes read + written by one call (for effective GB/s). */
  bytes: number;
  /**
   * Records the op on random inputs; returns its output and the CPU reference of any of its elements.
   * benchKernel checks a sample of the output against it before timing (a case cannot skip this).
   */
  build(plan: Plan): CaseOutput;
}

interface Dims { tag: string; D: number; I: number; heads: number; hd: number; qkvBias: boolean; norm: 'layernorm' | 'rmsnorm' }

const TINY: Dims = { tag: 'tiny', D: 128, I: 512, heads: 4, hd: 32, qkvBias: true, norm: 'layernorm' };
const M300: Dims = { tag: '300M', D: 1024, I: 4096, heads: 16, hd: 64, qkvBias: true, norm: 'layernorm' };
const M6B: Dims = { tag: '6B', D: 3200, I: 12800, heads: 25, hd: 128, qkvBias: false, norm: 'rmsnorm' };

let seed = 100;
const data = (n: number, scale = 1) => randomArray(n, seed++, scale);
const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
/** An f32 input: the constant on the plan and the values the reference uses. */
const f32 = (plan: Plan, label: string, shape: number[], scale = 1) => {
  const values = data(count(shape), scale);
  return { ref: hostConstant(plan, label, values, shape, 'f32'), values };
};
/** An f16 input (precision f16): the GPU gets the f16 bits, the reference the values they hold. */
const f16 = (plan: Plan, label: string, shape: number[], scale = 1) => {
  const { bits, values } = f16Values(data(count(shape), scale));
  return { ref: hostConstant(plan, label, bits, shape, 'f16'), values };
};
/** An f16 output holds the f32 result rounded once: half an ulp (2^-11 relative) on top of the f32 error. */
const F16_OUT = { atol: ATOL, rtol: RTOL_F16_OUT, why: 'f16 output: inputs are f16 values, the only extra error is the final rounding (src/kernels/check-harness.ts RTOL_F16_OUT)' };

/**
 * qkv, proj, fc1, fc2 of one layer, with the model's epilogues (bias, GELU, residual + layer scale);
 * `weights`: W stored 16-bit (packed pairs widened in the kernel) instead of f32; `version`: a named
 * matmul version (MATMUL_VERSIONS) instead of the heuristic's choice (named in the case); `precision`
 * f16: X f16, and Y f16 where the model stores it (qkv, fc1; proj and fc2 add to the f32 residual stream).
 */
function matmulCases(d: Dims, tokens: number, batch: number, weights?: 'bf16' | 'f16', version?: MatmulVersion, precision?: 'f16'): KernelCase[] {
  const M = tokens * batch;
  const linear = (which: string, K: number, N: number, bias: boolean, extra: 'none' | 'gelu' | 'residual'): KernelCase => {
    const yF16 = precision === 'f16' && extra !== 'residual';
    return {
      name: `matmul ${precision === 'f16' ? 'f16 ' : ''}${d.tag} ${which} B=${batch}${weights ? ` ${weights} W` : ''}${version ? ` ${version}` : ''}`,
      ...(weights ? { weights } : {}),
      ...(precision ? { precision } : {}),
      shape: `M=${M} K=${K} N=${N}${bias ? ' +bias' : ''}${extra === 'gelu' ? ' +gelu' : extra === 'residual' ? ' +residual' : ''}`,
      flops: matmulFlops(M, N, K),
      bytes: (precision === 'f16' ? 2 : 4) * M * K + (yF16 ? 2 : 4) * M * N + 4 * ((bias ? N : 0) + (extra === 'residual' ? M * N + N : 0)) + (weights ? 2 : 4) * N * K,
      build: (plan) => {
        const x = precision === 'f16' ? f16(plan, 'x', [M, K], 2) : f32(plan, 'x', [M, K], 2);
        let w: { ref: ReturnType<typeof hostConstant>; values: Float32Array };
        if (weights) {
          const bits = toHalfBits(data(N * K, 0.04), weights);
          w = { ref: hostConstant(plan, 'w', bits, [N, K], weights), values: halfBitsToF32(bits, weights) };
        } else {
          w = f32(plan, 'w', [N, K], 0.04);
        }
        const b = bias ? f32(plan, 'bias', [N], 0.04) : null;
        const res = extra === 'residual' ? { r: f32(plan, 'r', [M, N]), scale: f32(plan, 'scale', [N]) } : undefined;
        const epilogue = extra === 'gelu' ? 'gelu' as const : 'none' as const;
        const y = matmul(plan, x.ref, w.ref, b?.ref ?? null, {
          epilogue, label: which, version, out: yF16 ? 'f16' : 'f32', residual: res ? { r: res.r.ref, scale: res.scale.ref } : undefined,
        });
        return {
          y,
          ...(yF16 ? { tolerance: F16_OUT } : {}),
          // One dot product per sampled element: row m of X with row n of W.
          reference: (indices) => Float64Array.from(indices, (i) => {
            const m = Math.floor(i / N);
            const n = i % N;
            return matmulReference(x.values.subarray(m * K, (m + 1) * K), w.values.subarray(n * K, (n + 1) * K), b ? [b.values[n]!] : null, 1, 1, K, {
              epilogue, residual: res ? { r: [res.r.values[i]!], scale: [res.scale.values[n]!] } : undefined,
            })[0]!;
          }),
        };
      },
    };
  };
  return [
    linear('qkv', d.D, 3 * d.D, d.qkvBias, 'none'),
    linear('proj', d.D, d.D, true, 'residual'),
    linear('fc1', d.D, d.I, true, 'gelu'),
    linear('fc2', d.I, d.D, true, 'residual'),
  ];
}

/** Without `version`: the table's heuristic choice for this device (the rows named before the table). */
function attentionCase(tag: string, n: number, heads: number, hd: number, batch: number, version?: AttentionVersion, precision?: 'f16'): KernelCase {
  const D = heads * hd;
  const el = precision === 'f16' ? 2 : 4;
  return {
    name: `attention ${precision === 'f16' ? 'f16 ' : ''}${tag} hd${hd}${version ? ` ${version}` : ''} B=${batch}`,
    ...(precision ? { precision } : {}),
    shape: `B=${batch} N=${n} heads=${heads} hd=${hd}`,
    flops: 4 * batch * heads * n * n * hd,
    bytes: el * (batch * n * 3 * D + batch * n * D),
    build: (plan) => {
      const qkv = (precision === 'f16' ? f16 : f32)(plan, 'qkv', [batch, n, 3 * D], 2);
      const y = attention(plan, qkv.ref, { heads, headDim: hd, version });
      return {
        y,
        ...(precision === 'f16' ? { tolerance: F16_OUT } : {}),
        // One query row (token i, head h of batch b) per sampled element, computed once per row.
        reference: (indices) => {
          const rows = new Map<number, Float64Array>();
          const scratch = new Float64Array(n);
          return Float64Array.from(indices, (i) => {
            const row = Math.floor(i / hd); // (b·n + token)·heads + h
            let r = rows.get(row);
            if (!r) {
              const h = row % heads;
              const bt = Math.floor(row / heads);
              r = attentionReferenceRow(qkv.values, n, heads, hd, Math.floor(bt / n), bt % n, h, scratch);
              rows.set(row, r);
            }
            return r[i % hd]!;
          });
        },
      };
    },
  };
}

/** The reference of sampled elements of a [rows, C] row-wise op, one row at a time. */
function perRow(C: number, rowReference: (row: number) => Float64Array): CaseOutput['reference'] {
  return (indices) => {
    const rows = new Map<number, Float64Array>();
    return Float64Array.from(indices, (i) => {
      const row = Math.floor(i / C);
      let r = rows.get(row);
      if (!r) rows.set(row, (r = rowReference(row)));
      return r[i % C]!;
    });
  };
}

/** precision f16: x and the statistics f32 (the residual stream), y f16 (it feeds an f16 matmul X). */
function normCase(kind: 'layernorm' | 'rmsnorm', tag: string, rows: number, C: number, precision?: 'f16'): KernelCase {
  const out = precision === 'f16' ? 'f16' as const : 'f32' as const;
  return {
    name: `${kind} ${precision === 'f16' ? 'f16 ' : ''}${tag} rows=${rows}`,
    ...(precision ? { precision } : {}),
    shape: `[${rows}, ${C}]`,
    flops: (kind === 'layernorm' ? 8 : 4) * rows * C,
    bytes: 4 * rows * C + (out === 'f16' ? 2 : 4) * rows * C + 4 * (kind === 'layernorm' ? 2 : 1) * C,
    build: (plan) => {
      const x = f32(plan, 'x', [rows, C], 4);
      const w = f32(plan, 'weight', [C]);
      const b = kind === 'layernorm' ? f32(plan, 'bias', [C]) : null;
      const row = (r: number) => x.values.subarray(r * C, (r + 1) * C);
      return {
        y: b ? layernorm(plan, x.ref, w.ref, b.ref, 1e-6, kind, out) : rmsnorm(plan, x.ref, w.ref, 1e-6, kind, out),
        ...(out === 'f16' ? { tolerance: F16_OUT } : {}),
        reference: perRow(C, (r) => (b ? layernormReference(row(r), w.values, b.values, C, 1e-6) : rmsnormReference(row(r), w.values, C, 1e-6))),
      };
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
    build: (plan) => {
      const x = f32(plan, 'scores', [heads, rows, n], 8);
      return { y: softmax(plan, x.ref), reference: perRow(n, (r) => softmaxReference(x.values.subarray(r * n, (r + 1) * n), 1, n)) };
    },
  };
}

/** The cases of a mode. Quick: internvit-tiny's layer (N = 257) and N = 1025 at small widths. */
export function kernelCases(mode: 'quick' | 'full'): KernelCase[] {
  if (mode === 'quick') {
    return [
      ...matmulCases(TINY, 257, 1),
      ...matmulCases(TINY, 257, 1, 'bf16'),
      ...matmulCases(TINY, 257, 1, undefined, 'tiled64').filter((c) => c.name.includes(' proj ')),
      // precision f16 as the model runs it on this checkpoint (bf16 W as stored, f16 X).
      ...matmulCases(TINY, 257, 1, 'bf16', undefined, 'f16'),
      ...matmulCases(TINY, 257, 1, undefined, 'tile32x64').filter((c) => c.name.includes(' proj ')),
      ...matmulCases(TINY, 257, 1, undefined, 'splitk').filter((c) => c.name.includes(' fc2 ')),
      attentionCase('tiny', 257, TINY.heads, TINY.hd, 1),
      attentionCase('tiny', 257, TINY.heads, TINY.hd, 1, undefined, 'f16'),
      attentionCase('N1025', 1025, 1, 64, 1),
      // Every attention version, side by side (an unavailable one is recorded with its reason).
      ...(['fused', 'fused-q4', 'fused-subgroup'] as const).map((v) => attentionCase('N1025', 1025, 1, 64, 1, v)),
      normCase('layernorm', 'D128', 1025, 128),
      normCase('rmsnorm', 'D128', 1025, 128),
      normCase('layernorm', 'D128', 1025, 128, 'f16'),
      softmaxCase('N1025', 1, 1025, 256),
    ];
  }
  const cases: KernelCase[] = [];
  for (const d of [M300, M6B]) for (const b of [1, 8]) cases.push(...matmulCases(d, 1025, b));
  for (const d of [M300, M6B]) for (const b of [1, 8]) cases.push(...matmulCases(d, 1025, b, 'bf16'));
  cases.push(...matmulCases(M300, 1025, 1, 'f16'));
  // 64×64 tiles where 64×128 gives the fewest workgroups (B = 1: N = 1024 is 136 of them).
  for (const d of [M300, M6B]) cases.push(...matmulCases(d, 1025, 1, undefined, 'tiled64'));
  // precision f16: f16 X (and Y where the model stores it) with f16 W, and with bf16 W as checkpoints ship.
  for (const d of [M300, M6B]) for (const b of [1, 8]) cases.push(...matmulCases(d, 1025, b, 'f16', undefined, 'f16'));
  cases.push(...matmulCases(M300, 1025, 1, 'bf16', undefined, 'f16'));
  cases.push(
    attentionCase('300M', 1025, 16, 64, 1, undefined, 'f16'), attentionCase('300M', 1025, 16, 64, 8, undefined, 'f16'),
    attentionCase('6B', 1025, 25, 128, 1, undefined, 'f16'), attentionCase('6B', 1025, 25, 128, 8, undefined, 'f16'),
  );
  // The other tile versions side by side at B = 1 (small grids), 128×128 also at B = 8 (large M),
  // and split-K where it applies: 224 px (257 tokens), fc2's K = 4096 (64×64 tiles give 80 workgroups).
  for (const d of [M300, M6B]) for (const v of ['tiled', 'tile32x128', 'tile32x64', 'tile128x128'] as const) cases.push(...matmulCases(d, 1025, 1, undefined, v));
  for (const d of [M300, M6B]) cases.push(...matmulCases(d, 1025, 8, undefined, 'tile128x128'));
  const at224: Dims = { ...M300, tag: '300M 224px' };
  for (const v of ['tiled', 'tile32x64', 'splitk'] as const) cases.push(...matmulCases(at224, 257, 1, undefined, v).filter((c) => c.name.includes(' fc2 ')));
  cases.push(
    attentionCase('300M', 1025, 16, 64, 1), attentionCase('300M', 1025, 16, 64, 8),
    attentionCase('300M', 1025, 16, 64, 1, 'unfused'),
    attentionCase('6B', 1025, 25, 128, 1), attentionCase('6B', 1025, 25, 128, 8),
    ...(['fused', 'fused-q4', 'fused-subgroup'] as const).flatMap((v) => [attentionCase('300M', 1025, 16, 64, 1, v), attentionCase('6B', 1025, 25, 128, 1, v)]),
    normCase('layernorm', '300M', 1025, 1024), normCase('layernorm', '300M', 8 * 1025, 1024),
    normCase('rmsnorm', '6B', 1025, 3200), normCase('rmsnorm', '6B', 8 * 1025, 3200),
    normCase('layernorm', '300M', 8 * 1025, 1024, 'f16'), normCase('rmsnorm', '6B', 8 * 1025, 3200, 'f16'),
    softmaxCase('300M', 16, 1025),
  );
  return cases;
}

/**
 * Checks one case, then times it; a failure becomes a record with `error` (the suite goes on). The
 * check runs the compiled plan once, reads the output back and compares a sample of it with the op's
 * CPU reference (bench/lib/sample-check.ts): a wrong kernel is reported FAILED and never timed.
 */
export async function benchKernel(gpu: Gpu, c: KernelCase, opts: BenchOptions, runner: Runner): Promise<BenchRecord> {
  const base: BenchRecord = {
    suite: 'kernel', name: c.name, shape: c.shape, runtime: 'internvit-webgpu', runner, mode: opts.mode, ...(c.weights ? { weights: c.weights } : {}),
    ...describeAdapter(gpu), dtype: c.precision ?? 'f32', median_ms: null, p90_ms: null, gflops: null, gbps: null,
    timing: '', runs: 0, date: new Date().toISOString(),
  };
  const timestamps = gpu.features.timestamps;
  let compiled;
  try {
    const plan = createPlan(gpu, c.name);
    const built = c.build(plan);
    output(plan, 'y', built.y);
    compiled = await compilePlan(plan, { profile: timestamps });
    const first = await runPlan(compiled, {}, { read: ['y'] });
    const check = checkSample(c.name, built, first.y!, kernelSeed(c.name));
    const checked = { samples: check.n, maxAbs: check.maxAbs, worstRatio: check.worstRatio, atol: check.atol, rtol: check.rtol };
    if (!check.ok) {
      const tol = built.tolerance ? ` (tolerance ${check.atol} + ${check.rtol}·|want|: ${built.tolerance.why})` : '';
      return { ...base, check: checked, error: `FAILED the output check, not timed: ${formatResult(check)}${tol}` };
    }
    const times: number[] = [];
    await warmUp(() => runPlan(compiled!, {}, { read: [] }), opts.warmup);
    for (let i = 0; i < opts.kernelRuns; i++) {
      const t = now();
      await runPlan(compiled, {}, { read: [] });
      const wall = now() - t;
      const gpuMs = compiled.lastProfile?.reduce((a, op) => a + op.ms, 0);
      times.push(timestamps ? gpuMs! : wall);
    }
    const med = median(times);
    return {
      ...base,
      median_ms: med, p90_ms: percentile(times, 90),
      gflops: c.flops / med / 1e6, gbps: c.bytes / med / 1e6,
      timing: timestamps ? 'GPU time per call (timestamp queries)' : 'wall clock per call (submit + onSubmittedWorkDone; no timestamp-query)',
      runs: times.length, check: checked,
      dispatches: compiled.plan.ops.filter((o) => o.type === 'dispatch').length,
    };
  } catch (e) {
    return { ...base, error: e instanceof Error ? e.message : String(e) };
  } finally {
    if (compiled) disposePlan(compiled);
  }
}

/** A case's sample seed: from its name, so a case checks the same elements in every run. */
function kernelSeed(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

export async function runKernelSuite(
  gpu: Gpu, opts: BenchOptions, runner: Runner, onRecord: (r: BenchRecord) => void | Promise<void>,
): Promise<BenchRecord[]> {
  const out: BenchRecord[] = [];
  for (const c of kernelCases(opts.mode)) {
    if (opts.kernelFilter && !opts.kernelFilter.split('|').some((f) => c.name.includes(f))) continue;
    const r = await benchKernel(gpu, c, opts, runner);
    out.push(r);
    await onRecord(r);
  }
  return out;
}
