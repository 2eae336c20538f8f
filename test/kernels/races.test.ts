// Data-race check of every kernel that shares workgroup memory (Node only: no GPU, no WebGPU).
// SwiftShader runs a workgroup's invocations in an order that can hide a missing workgroupBarrier();
// a real GPU then reads half-written tiles. wgsl_reflect's detectRaces interprets all invocations of
// a workgroup in lockstep, parks each at a barrier and, per barrier-delimited phase, reports two
// invocations touching overlapping bytes of workgroup or storage memory with at least one write.
// Each case records the op with the kernel's own recording function on a plan (small, ragged shapes)
// and runs the detector on the recorded specialisation: its constants, its workgroup grid (every
// workgroup of it) and buffers the size of its bound tensors, filled with random data.
//
// Limits of the detector (wgsl_reflect 1.6.0) and what this file does about them:
// - config.constants are applied after module-scope declarations run, so overrides derived from
//   other overrides (attention's `HD4 = HEAD_DIM / 4u`, array lengths) see no value and it throws.
//   substituteOverrides() therefore turns every `override` into a `const` holding the recorded value
//   (derived ones keep their expression, now a const-expression) before the source is interpreted.
// - Function-scope `array<bool, N>` elements read back as a non-scalar, so `if (patchOk[i])` is
//   mis-executed (the interpreter logs "Condition must be a scalar" and runs the branch anyway).
//   patch_embed's one such array is rewritten to array<u32, 4> for the interpreter (RaceCase.adapt);
//   it is private memory, so the shared accesses being checked are unchanged.
// - Anything else the interpreter logs through console.error fails the case: a kernel it cannot
//   execute faithfully is not a kernel it has checked.
// - The interpreter has no f16 (`enable f16;` is an invalid statement to it; f16 values are sized as
//   4 bytes). An f16 variant (precision 'f16') is therefore checked as its f32 twin: `enable f16;`
//   dropped, to_f16 made the identity, every f16 type spelled f32, and its f16 buffers sized 4 bytes
//   per element (asF32Twin). Element indices, barriers and control flow are unchanged; only the
//   element width doubles, so an access pattern that races in the f16 kernel races in the twin.
// - Races between workgroups (storage memory) are out of its scope; WGSL gives them no order anyway.
// - A write to one component of a vector (`tile[i][c] = v`) counts as touching the whole vector.
//   That is the WGSL rule, not a false positive: "A write access to component of a vector may access
//   all of the memory locations associated with that vector" (WGSL § Component Reference from Vector
//   Memory View), and Tint's HLSL backend does it as a read-modify-write of the vector, so different
//   invocations writing components of one vec4 race. matmul and patch_embed stored their transposed
//   tiles that way until this check found it; both now store whole vec4s (see the control below).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MemoryTracker, WgslDebug, detectRaces, type RaceDetectionResult } from 'wgsl_reflect/wgsl_reflect.module.js';
import { attention } from '../../src/kernels/attention.js';
import { layernorm } from '../../src/kernels/layernorm.js';
import { MATMUL_VERSIONS, matmul, type MatmulShape } from '../../src/kernels/matmul.js';
import { patchEmbed } from '../../src/kernels/patch-embed.js';
import { qkRmsNorm, rmsnorm } from '../../src/kernels/rmsnorm.js';
import { softmax } from '../../src/kernels/softmax.js';
import type { Gpu } from '../../src/runtime/device.js';
import type { Kernel } from '../../src/runtime/kernel.js';
import { createPlan, input, type DispatchOp, type Plan, type TensorRef } from '../../src/runtime/plan.js';
import { rng } from '../../src/kernels/check-harness.js';
import { WGSL_ENABLE_F16, WGSL_TO_F16 } from '../../src/kernels/wgsl-lib.js';

// Recording needs only the limits (dispatch sizes, attention tiling): the WebGPU defaults.
const limits = {
  maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256, maxComputeWorkgroupStorageSize: 16384,
  maxStorageBufferBindingSize: 128 << 20, maxComputeWorkgroupsPerDimension: 65535,
} as GPUSupportedLimits;
// shader-f16 on, so the f16 variants record too (nothing here touches a device).
const newPlan = (subgroups = false): Plan => createPlan({ limits, features: { shaderF16: true, subgroups, timestamps: false } } as unknown as Gpu, 'races');

/** The f32 twin of an f16 kernel for the interpreter (see the header); f32 kernels pass unchanged. */
function asF32Twin(source: string): { code: string; f16: boolean } {
  if (!source.startsWith(WGSL_ENABLE_F16)) return { code: source, f16: false };
  let code = source.slice(WGSL_ENABLE_F16.length);
  if (code.includes(WGSL_TO_F16)) code = code.replace(WGSL_TO_F16, 'fn to_f16(v: f32) -> f32 { return v; }\n');
  return { code: code.replace(/\bf16\b/g, 'f32'), f16: true };
}

/** Replaces each `override` declaration with a `const` of the recorded value (see the header). */
function substituteOverrides(source: string, kernel: Kernel, constants: Record<string, number>): string {
  for (const name of Object.keys(constants)) {
    if (!kernel.overrides.has(name)) throw new Error(`${kernel.name}: recorded constant '${name}' is not an override of the shader`);
  }
  const re = /^override\s+(\w+)\s*(?::\s*(\w+))?\s*(?:=\s*([^;]+))?;/gm;
  let seen = 0;
  const out = source.replace(re, (_decl, name: string, type: string | undefined, init: string | undefined) => {
    seen++;
    const t = type ?? kernel.overrides.get(name) ?? 'u32';
    const v = constants[name];
    if (v === undefined) {
      if (init === undefined) throw new Error(`${kernel.name}: override '${name}' has no default and was not recorded`);
      return `const ${name}: ${t} = ${init};`;
    }
    if (t === 'bool') return `const ${name}: bool = ${v ? 'true' : 'false'};`;
    if (t === 'f32') return `const ${name}: f32 = ${Number.isInteger(v) ? `${v}.0` : String(v)};`;
    if (!Number.isInteger(v) || v < 0) throw new Error(`${kernel.name}: override '${name}' (${t}) got ${v}`);
    return `const ${name}: ${t} = ${v}${t === 'i32' ? 'i' : 'u'};`;
  });
  if (seen !== kernel.overrides.size) throw new Error(`${kernel.name}: substituted ${seen} of ${kernel.overrides.size} overrides (declaration not on one line?)`);
  return out;
}

interface Stats { steps: number; accesses: number; phases: number }

/**
 * detectRaces, counting what it checked: interpreter steps (WgslDebug.stepStack), recorded memory
 * accesses (MemoryTracker.record) and barrier phases (MemoryTracker.endPhase). The prototypes are
 * wrapped only for the duration of the call.
 */
function detectCounting(code: string, dispatchCount: number[], bindGroups: Record<string, Record<string, ArrayBuffer>>): RaceDetectionResult & Stats & { logged: string[] } {
  const stats: Stats = { steps: 0, accesses: 0, phases: 0 };
  const logged = new Set<string>();
  const consoleError = console.error;
  console.error = (...a: unknown[]) => { logged.add(a.map(String).join(' ')); };
  const debugProto = WgslDebug.prototype as unknown as { stepStack: (...a: unknown[]) => unknown };
  const trackerProto = MemoryTracker.prototype as unknown as { record: (...a: unknown[]) => void; endPhase: () => void };
  const { stepStack } = debugProto;
  const { record, endPhase } = trackerProto;
  debugProto.stepStack = function (this: unknown, ...a: unknown[]) { stats.steps++; return stepStack.apply(this, a); };
  trackerProto.record = function (this: unknown, ...a: unknown[]) { stats.accesses++; record.apply(this, a); };
  trackerProto.endPhase = function (this: unknown) { stats.phases++; endPhase.apply(this); };
  try {
    return { ...detectRaces(code, 'main', dispatchCount, bindGroups), ...stats, logged: [...logged] };
  } finally {
    console.error = consoleError;
    debugProto.stepStack = stepStack;
    trackerProto.record = record;
    trackerProto.endPhase = endPhase;
  }
}

/** Buffers for every binding of the op (one per tensor, random values in [-1, 1)), group 0. */
function bindGroupsOf(op: DispatchOp, seed: number, f16AsF32 = false): Record<string, Record<string, ArrayBuffer>> {
  const random = rng(seed);
  const byTensor = new Map<TensorRef, ArrayBuffer>();
  const group: Record<string, ArrayBuffer> = {};
  for (const b of op.kernel.bindings) {
    const t = op.bindings[b.name]!;
    let buf = byTensor.get(t);
    if (!buf) {
      // Sized like createBuffer's buffers: whole 16-byte units (a packed 16-bit tensor with an odd
      // count ends in half a word). Random f32 bits are fine for packed 16-bit data: only the
      // addresses matter here.
      const bytes = f16AsF32 && t.dtype === 'f16' && b.scalar === 'f16' ? 2 * t.byteLength : t.byteLength;
      const data = new Float32Array(Math.ceil(bytes / 16) * 4);
      if (b.access !== 'read_write') for (let i = 0; i < data.length; i++) data[i] = 2 * random() - 1;
      buf = data.buffer;
      byTensor.set(t, buf);
    }
    group[String(b.binding)] = buf;
  }
  return { 0: group };
}

/** The one dispatch of `kernelName` the plan recorded. */
function recordedOp(plan: Plan, kernelName: string): DispatchOp {
  const ops = plan.ops.filter((o): o is DispatchOp => o.type === 'dispatch' && o.kernel.name === kernelName);
  if (ops.length !== 1) throw new Error(`expected one '${kernelName}' dispatch, got ${ops.length} (${plan.ops.map((o) => o.label).join(', ')})`);
  return ops[0]!;
}

/** A quantized-W matmul of `shape` (f32 X and Y, no epilogue unless given) recorded as the tuner does. */
function quantMatmul(plan: Plan, shape: Partial<MatmulShape> & Pick<MatmulShape, 'M' | 'N' | 'K' | 'w'>, version: string): void {
  MATMUL_VERSIONS.trial(plan, { x: 'f32', y: 'f32', epilogue: 'none', residual: false, bias: false, ...shape }, version);
}

interface RaceCase {
  name: string;
  /** shaders/*.wgsl file the kernel comes from (coverage check below). */
  shader: string;
  kernel: string;
  /** Records the op on a fresh plan. */
  record(plan: Plan): void;
  /** Interpreter workarounds: [from, to] source replacements, each of which must match once. */
  adapt?: [string, string][];
  /** Record on a plan whose device has 'subgroups' (subgroup kernel variants). */
  subgroups?: boolean;
}

const cases: RaceCase[] = [
  // matmul: 64×128 tile, BK = 16. K = 20 / 19 gives a full and a ragged K tile; M, N are ragged.
  {
    name: 'matmul tiled vec4 M=5 N=7 K=20, bias + gelu + residual', shader: 'matmul.wgsl', kernel: 'matmul_tiled_vec4_wf32',
    record: (p) => matmul(p, input(p, 'x', [5, 20]), input(p, 'w', [7, 20]), input(p, 'b', [7]),
      { epilogue: 'gelu', residual: { r: input(p, 'r', [5, 7]), scale: input(p, 's', [7]) }, version: 'tiled' }),
  },
  {
    name: 'matmul tiled scalar M=3 N=5 K=19', shader: 'matmul.wgsl', kernel: 'matmul_tiled_scalar_wf32',
    record: (p) => matmul(p, input(p, 'x', [3, 19]), input(p, 'w', [5, 19]), null, { version: 'tiled' }),
  },
  // 'tiled64' (BN = 64): W loaded by threads 64..127 only, half the columns; N = 70 is two workgroups.
  {
    name: 'matmul tiled64 vec4 M=5 N=70 K=20, bias + residual', shader: 'matmul.wgsl', kernel: 'matmul_tiled_vec4_wf32',
    record: (p) => matmul(p, input(p, 'x', [5, 20]), input(p, 'w', [70, 20]), input(p, 'b', [70]),
      { residual: { r: input(p, 'r', [5, 70]), scale: input(p, 's', [70]) }, version: 'tiled64' }),
  },
  // 16-bit weights change only the global loads of W (packed pairs), not the tile traffic.
  {
    name: 'matmul tiled vec4 bf16 w M=5 N=7 K=20, bias', shader: 'matmul.wgsl', kernel: 'matmul_tiled_vec4_wbf16',
    record: (p) => matmul(p, input(p, 'x', [5, 20]), input(p, 'w', [7, 20], 'bf16'), input(p, 'b', [7]), { version: 'tiled' }),
  },
  {
    name: 'matmul tiled scalar f16 w M=3 N=5 K=19', shader: 'matmul.wgsl', kernel: 'matmul_tiled_scalar_wf16',
    record: (p) => matmul(p, input(p, 'x', [3, 19]), input(p, 'w', [5, 19], 'f16'), null, { version: 'tiled' }),
  },
  // f16 variants (checked as their f32 twins, see the header): f16 X/Y and tiles; W f16 (B tile f16)
  // or bf16 (B tile f32); the residual epilogue with an f32 Y.
  {
    name: 'matmul f16 tiled vec4 f16 w M=5 N=7 K=20, bias + gelu, f16 out', shader: 'matmul.wgsl', kernel: 'matmul_tiled_vec4_wf16_xf16_yf16',
    record: (p) => matmul(p, input(p, 'x', [5, 20], 'f16'), input(p, 'w', [7, 20], 'f16'), input(p, 'b', [7]), { epilogue: 'gelu', out: 'f16', version: 'tiled' }),
  },
  {
    name: 'matmul f16 tiled64 scalar bf16 w M=3 N=70 K=19, residual', shader: 'matmul.wgsl', kernel: 'matmul_tiled_scalar_wbf16_xf16',
    record: (p) => matmul(p, input(p, 'x', [3, 19], 'f16'), input(p, 'w', [70, 19], 'bf16'), null,
      { residual: { r: input(p, 'r', [3, 70]), scale: input(p, 's', [70]) }, version: 'tiled64' }),
  },
  // matmul_blocked.wgsl (tile sizes and threads per tile are overrides): every thread loads units
  // of 4 rows × 4 k in turn. 32×64: 128 threads, N = 70 is two workgroups, K = 20 a full and a
  // ragged K tile; 128×128: 256 threads, 8×8 per thread, BK = 8 (K = 19: three K tiles).
  {
    name: 'matmul tile32x64 vec4 M=5 N=70 K=20, bias + gelu + residual', shader: 'matmul_blocked.wgsl', kernel: 'matmul_blocked_vec4_wf32',
    record: (p) => matmul(p, input(p, 'x', [5, 20]), input(p, 'w', [70, 20]), input(p, 'b', [70]),
      { epilogue: 'gelu', residual: { r: input(p, 'r', [5, 70]), scale: input(p, 's', [70]) }, version: 'tile32x64' }),
  },
  {
    name: 'matmul tile128x128 scalar bf16 w M=3 N=5 K=19', shader: 'matmul_blocked.wgsl', kernel: 'matmul_blocked_scalar_wbf16',
    record: (p) => matmul(p, input(p, 'x', [3, 19]), input(p, 'w', [5, 19], 'bf16'), null, { version: 'tile128x128' }),
  },
  {
    name: 'matmul f16 tile32x128 vec4 f16 w M=5 N=7 K=20, bias, f16 out', shader: 'matmul_blocked.wgsl', kernel: 'matmul_blocked_vec4_wf16_xf16_yf16',
    record: (p) => matmul(p, input(p, 'x', [5, 20], 'f16'), input(p, 'w', [7, 20], 'f16'), input(p, 'b', [7]), { out: 'f16', version: 'tile32x128' }),
  },
  // split-K: K = 512 in two slices of 256 (grid z = 2), each workgroup its own slice of the scratch.
  {
    name: 'matmul splitk vec4 M=3 N=5 K=512 (2 slices)', shader: 'matmul_blocked.wgsl', kernel: 'matmul_blocked_vec4_wf32',
    record: (p) => matmul(p, input(p, 'x', [3, 512]), input(p, 'w', [5, 512]), null, { version: 'splitk' }),
  },
  // int8 / int4 W (shaders/lib/dequant_w.wgsl through W_QUANT in lib/matmul_operands.wgsl): every
  // version above with each scheme. Only the global loads of W change (packed words, f32 scales),
  // the tiles stay f32; recorded by MATMUL_VERSIONS.trial, the tuner's recorder of a shape. int4
  // K = 36 / 37 with groups of 32: a full and a short group; scalar K pads each row's last word.
  // A read past the end of w or wscale (measured with a planted off-by-one group index) stops the
  // interpreter with a RangeError, which fails the case; one inside the 16-byte padding does not.
  {
    name: 'matmul tiled vec4 int8 w M=5 N=7 K=20, bias + gelu + residual', shader: 'matmul.wgsl', kernel: 'matmul_tiled_vec4_wq',
    record: (p) => quantMatmul(p, { M: 5, N: 7, K: 20, w: 'int8', bias: true, epilogue: 'gelu', residual: true }, 'tiled'),
  },
  {
    name: 'matmul tiled scalar int4 g32 w M=3 N=5 K=37', shader: 'matmul.wgsl', kernel: 'matmul_tiled_scalar_wq',
    record: (p) => quantMatmul(p, { M: 3, N: 5, K: 37, w: 'int4', groupSize: 32 }, 'tiled'),
  },
  {
    name: 'matmul tiled64 scalar int8 w M=3 N=70 K=19, residual', shader: 'matmul.wgsl', kernel: 'matmul_tiled_scalar_wq',
    record: (p) => quantMatmul(p, { M: 3, N: 70, K: 19, w: 'int8', residual: true }, 'tiled64'),
  },
  {
    name: 'matmul f16 tiled64 vec4 int4 g32 w M=5 N=70 K=36, bias, f16 out', shader: 'matmul.wgsl', kernel: 'matmul_tiled_vec4_wq_xf16_yf16',
    record: (p) => quantMatmul(p, { M: 5, N: 70, K: 36, w: 'int4', groupSize: 32, x: 'f16', y: 'f16', bias: true }, 'tiled64'),
  },
  {
    name: 'matmul tile32x64 vec4 int4 g32 w M=5 N=70 K=36, bias + gelu + residual', shader: 'matmul_blocked.wgsl', kernel: 'matmul_blocked_vec4_wq',
    record: (p) => quantMatmul(p, { M: 5, N: 70, K: 36, w: 'int4', groupSize: 32, bias: true, epilogue: 'gelu', residual: true }, 'tile32x64'),
  },
  {
    name: 'matmul tile32x64 scalar int8 w M=3 N=70 K=19', shader: 'matmul_blocked.wgsl', kernel: 'matmul_blocked_scalar_wq',
    record: (p) => quantMatmul(p, { M: 3, N: 70, K: 19, w: 'int8' }, 'tile32x64'),
  },
  {
    name: 'matmul tile128x128 vec4 int8 w M=5 N=7 K=20, bias', shader: 'matmul_blocked.wgsl', kernel: 'matmul_blocked_vec4_wq',
    record: (p) => quantMatmul(p, { M: 5, N: 7, K: 20, w: 'int8', bias: true }, 'tile128x128'),
  },
  {
    name: 'matmul tile128x128 scalar int4 g32 w M=3 N=5 K=19', shader: 'matmul_blocked.wgsl', kernel: 'matmul_blocked_scalar_wq',
    record: (p) => quantMatmul(p, { M: 3, N: 5, K: 19, w: 'int4', groupSize: 32 }, 'tile128x128'),
  },
  {
    name: 'matmul f16 tile32x128 vec4 int8 w M=5 N=7 K=20, f16 out', shader: 'matmul_blocked.wgsl', kernel: 'matmul_blocked_vec4_wq_xf16_yf16',
    record: (p) => quantMatmul(p, { M: 5, N: 7, K: 20, w: 'int8', x: 'f16', y: 'f16' }, 'tile32x128'),
  },
  {
    name: 'matmul tile32x128 scalar int4 g32 w M=3 N=5 K=37, residual', shader: 'matmul_blocked.wgsl', kernel: 'matmul_blocked_scalar_wq',
    record: (p) => quantMatmul(p, { M: 3, N: 5, K: 37, w: 'int4', groupSize: 32, residual: true }, 'tile32x128'),
  },
  // split-K: int8 K = 512 in two slices of 256; int4 K = 519 in slices of 272 and 247, the cut
  // inside a group of 128 (slice 1 starts mid-group).
  {
    name: 'matmul splitk vec4 int8 w M=3 N=5 K=512 (2 slices)', shader: 'matmul_blocked.wgsl', kernel: 'matmul_blocked_vec4_wq',
    record: (p) => quantMatmul(p, { M: 3, N: 5, K: 512, w: 'int8' }, 'splitk'),
  },
  {
    name: 'matmul splitk scalar int4 g128 w M=3 N=5 K=519 (2 slices, one cuts a group)', shader: 'matmul_blocked.wgsl', kernel: 'matmul_blocked_scalar_wq',
    record: (p) => quantMatmul(p, { M: 3, N: 5, K: 519, w: 'int4', groupSize: 128 }, 'splitk'),
  },
  // attention: hd 64 → 2 threads per query (partial scores summed across threads), 128 threads,
  // 16 keys per block; N = 17 is a full and a ragged key block and a ragged query block.
  {
    name: 'attention fused N=17 hd=64 (T=2, BK=16)', shader: 'attention.wgsl', kernel: 'attention',
    record: (p) => attention(p, input(p, 'qkv', [1, 17, 3 * 64]), { heads: 1, headDim: 64, version: 'fused' }),
  },
  // hd 128 (InternViT-6B) → 4 threads per query, 256 threads, 8 keys per block.
  {
    name: 'attention fused N=5 hd=128 (T=4, BK=8)', shader: 'attention.wgsl', kernel: 'attention',
    record: (p) => attention(p, input(p, 'qkv', [1, 5, 3 * 128]), { heads: 1, headDim: 128 }),
  },
  // hd 16 → 1 thread per query, 64 threads, 32 keys per block, 2 heads (grid y).
  {
    name: 'attention fused N=5 hd=16 heads=2 (T=1, BK=32)', shader: 'attention.wgsl', kernel: 'attention',
    record: (p) => attention(p, input(p, 'qkv', [1, 5, 3 * 32]), { heads: 2, headDim: 16 }),
  },
  // f16 K/V tiles fit more keys per block: hd 64 → 20 keys; N = 21 is a full and a ragged block.
  {
    name: 'attention f16 fused N=21 hd=64 (T=2, BK=20)', shader: 'attention.wgsl', kernel: 'attention_f16',
    record: (p) => attention(p, input(p, 'qkv', [1, 21, 3 * 64], 'f16'), { heads: 1, headDim: 64 }),
  },
  // Register blocking ('fused-q4'): 4 queries per thread, hd 64 → 4 threads per query group, 64
  // threads, 8 keys per block in 16 KiB; partials [BK/4][QB][WG]. N = 17: a full and two ragged key
  // blocks, 17 of the workgroup's 64 queries.
  {
    name: 'attention fused-q4 N=17 hd=64 (QB=4, T=4, BK=8)', shader: 'attention.wgsl', kernel: 'attention',
    record: (p) => attention(p, input(p, 'qkv', [1, 17, 3 * 64]), { heads: 1, headDim: 64, version: 'fused-q4' }),
  },
  {
    name: 'attention f16 fused-q4 N=9 hd=32 heads=2 (QB=4, T=2)', shader: 'attention.wgsl', kernel: 'attention_f16',
    record: (p) => attention(p, input(p, 'qkv', [1, 9, 3 * 64], 'f16'), { heads: 2, headDim: 32, version: 'fused-q4' }),
  },
  // Subgroup version: no partials; each subgroup claims its slots with a workgroup atomic. hd 16:
  // 128 threads (a multiple of the largest subgroup), 32 keys per block; N = 33, a full and a ragged block. The interpreter cannot execute the subgroup
  // builtins (a TypeError inside wgsl_exec), so they are replaced by their meaning for one subgroup
  // spanning the workgroup (lane = local index, elect = lane 0, broadcast = lane 0's claim, 0), and the
  // shuffle (a register exchange, no memory) by a register-only stand-in: every workgroup-memory
  // access (tiles, the slot counter) and every barrier is unchanged.
  {
    name: 'attention fused-subgroup N=33 hd=16 (T=1, BK=32)', shader: 'attention.wgsl', kernel: 'attention_subgroup', subgroups: true,
    record: (p) => attention(p, input(p, 'qkv', [1, 33, 3 * 16]), { heads: 1, headDim: 16, version: 'fused-subgroup' }),
    adapt: [
      ['enable subgroups;\n', ''],
      ['@builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32,', ''],
      ['var claimed = 0u;', 'let sg_lane = li; let sg_size = WG; var claimed = 0u;'],
      ['if (subgroupElect())', 'if (li == 0u)'],
      ['subgroupBroadcastFirst(claimed)', '0u'],
      ['subgroupShuffleXor(s[i], mask)', 's[i]'],
    ],
  },
  // softmax: threads per row 16 (16 rows per workgroup, 3 used), 256 (one row per workgroup), 1.
  { name: 'softmax 3×37 (TPR=16)', shader: 'softmax.wgsl', kernel: 'softmax', record: (p) => softmax(p, input(p, 'x', [3, 37])) },
  { name: 'softmax 2×1030 (TPR=256)', shader: 'softmax.wgsl', kernel: 'softmax', record: (p) => softmax(p, input(p, 'x', [2, 1030])) },
  { name: 'softmax 300×3 (TPR=1, ragged 2nd workgroup)', shader: 'softmax.wgsl', kernel: 'softmax', record: (p) => softmax(p, input(p, 'x', [300, 3])) },
  // Row norms: WG 32 (C = 37) and a larger WG with several values per thread.
  {
    name: 'layernorm 2×37 with bias (WG=32)', shader: 'layernorm.wgsl', kernel: 'layernorm',
    record: (p) => layernorm(p, input(p, 'x', [2, 37]), input(p, 'w', [37]), input(p, 'b', [37]), 1e-6),
  },
  {
    name: 'layernorm 1×1030 no bias (WG=256)', shader: 'layernorm.wgsl', kernel: 'layernorm',
    record: (p) => layernorm(p, input(p, 'x', [1, 1030]), input(p, 'w', [1030]), null, 1e-5),
  },
  {
    name: 'rmsnorm 2×37 (WG=32)', shader: 'rmsnorm.wgsl', kernel: 'rmsnorm',
    record: (p) => rmsnorm(p, input(p, 'x', [2, 37]), input(p, 'w', [37]), 1e-6),
  },
  {
    name: 'rmsnorm 1×300 (WG=128)', shader: 'rmsnorm.wgsl', kernel: 'rmsnorm',
    record: (p) => rmsnorm(p, input(p, 'x', [1, 300]), input(p, 'w', [300]), 1e-6),
  },
  {
    name: 'layernorm f16 out 2×37 with bias (WG=32)', shader: 'layernorm.wgsl', kernel: 'layernorm_yf16',
    record: (p) => layernorm(p, input(p, 'x', [2, 37]), input(p, 'w', [37]), input(p, 'b', [37]), 1e-6, 'layernorm', 'f16'),
  },
  {
    name: 'rmsnorm f16 out 1×300 (WG=128)', shader: 'rmsnorm.wgsl', kernel: 'rmsnorm_yf16',
    record: (p) => rmsnorm(p, input(p, 'x', [1, 300]), input(p, 'w', [300]), 1e-6, 'rmsnorm', 'f16'),
  },
  {
    name: 'qk_rmsnorm f16 2 rows D=37 (q, k, v blocks)', shader: 'qk_rmsnorm.wgsl', kernel: 'qk_rmsnorm_f16',
    record: (p) => qkRmsNorm(p, input(p, 'qkv', [2, 3 * 37], 'f16'), input(p, 'qw', [37]), input(p, 'kw', [37]), 1e-6),
  },
  {
    name: 'qk_rmsnorm 2 rows D=37 (q, k, v blocks)', shader: 'qk_rmsnorm.wgsl', kernel: 'qk_rmsnorm',
    record: (p) => qkRmsNorm(p, input(p, 'qkv', [2, 3 * 37]), input(p, 'qw', [37]), input(p, 'kw', [37]), 1e-6),
  },
  // patch_embed: 64×64 tile, BK = 16; p = 3 → K = 27 (full + ragged K step), 7×7 image (a dropped
  // pixel row and column), 2×2 patches + class token, D = 6.
  {
    name: 'patch_embed B=1 7×7 p=3 D=6 (K=27)', shader: 'patch_embed.wgsl', kernel: 'patch_embed',
    record: (p) => patchEmbed(p, input(p, 'pixels', [1, 3, 7, 7]), {
      patchWeight: input(p, 'pw', [6, 3, 3, 3]), patchBias: input(p, 'pb', [6]),
      classEmbedding: input(p, 'cls', [1, 1, 6]), positionEmbedding: input(p, 'pos', [1, 5, 6]),
    }, { patchSize: 3, imageSize: 6, hidden: 6 }),
    adapt: [
      ['var patchOk: array<bool, 4>;', 'var patchOk: array<u32, 4>;'],
      ['patchOk[i] = m < M && t > 0u;', 'patchOk[i] = select(0u, 1u, m < M && t > 0u);'],
      ['if (kin && patchOk[i])', 'if (kin && patchOk[i] != 0u)'],
    ],
  },
];

interface Prepared { code: string; grid: number[]; groups: Record<string, Record<string, ArrayBuffer>>; invocations: number }

function prepare(c: RaceCase, seed: number): Prepared {
  const plan = newPlan(c.subgroups);
  c.record(plan);
  const op = recordedOp(plan, c.kernel);
  const twin = asF32Twin(op.kernel.source);
  let code = substituteOverrides(twin.code, op.kernel, op.constants);
  for (const [from, to] of c.adapt ?? []) {
    if (code.split(from).length !== 2) throw new Error(`${c.name}: workaround target '${from}' not found once in the shader; update adapt`);
    code = code.replace(from, to);
  }
  const workgroups = op.workgroups[0] * op.workgroups[1] * op.workgroups[2];
  // Workgroup size from the substituted source, as the detector reads it.
  const wgAttr = /@workgroup_size\(([^)]*)\)/.exec(code)![1]!.split(',').map((s) => s.trim());
  const consts = new Map([...code.matchAll(/^const (\w+): \w+ = (\d+)u;/gm)].map((m) => [m[1]!, Number(m[2])]));
  const wgSize = wgAttr.map((s) => (/^\d+$/.test(s) ? Number(s) : consts.get(s)!)).reduce((a, b) => a * b, 1);
  return { code, grid: op.workgroups, groups: bindGroupsOf(op, seed, twin.f16), invocations: workgroups * wgSize };
}

/** Errors, interpreter complaints and races (grouped by buffer, access kinds and source lines). */
function describeResult(r: RaceDetectionResult & { logged: string[] }): string {
  const groups = new Map<string, { n: number; example: string }>();
  for (const x of r.races) {
    const key = `${x.bufferId}: ${x.a.kind} line ${x.a.line} / ${x.b.kind} line ${x.b.line}`;
    const g = groups.get(key) ?? { n: 0, example: x.message };
    g.n++;
    groups.set(key, g);
  }
  return [
    ...r.errors.map((e) => `detector error: ${e}`),
    ...r.logged.map((e) => `interpreter error: ${e}`),
    ...[...groups].map(([key, g]) => `${g.n} races on ${key}, e.g. ${g.example}`),
  ].join('\n');
}

describe('workgroup-memory kernels have no data races (wgsl_reflect detectRaces, lockstep)', () => {
  cases.forEach((c, i) => {
    it(c.name, () => {
      const p = prepare(c, 7000 + i);
      const t0 = performance.now();
      const r = detectCounting(p.code, p.grid, p.groups);
      const ms = performance.now() - t0;
      console.log(`${c.name}: grid ${p.grid.join('×')}, ${p.invocations} invocations, ${r.steps} steps, ` +
        `${r.accesses} memory accesses in ${r.phases} barrier phases checked in ${ms.toFixed(0)} ms: ` +
        `${r.races.length} races, ${r.errors.length + r.logged.length} errors`);
      expect(r.steps, 'the interpreter ran the kernel').toBeGreaterThan(p.invocations);
      expect(describeResult(r)).toBe('');
    }, 60_000);
  });

  it('covers every shader that uses workgroup memory or barriers', () => {
    const dir = fileURLToPath(new URL('../../shaders/', import.meta.url));
    const usesShared = (src: string) => /var<workgroup>|workgroupBarrier|storageBarrier|workgroupUniformLoad/.test(src);
    // Functions of shaders/lib/ that use them count as uses where a shader calls them (workgroup_sum).
    const libFns = readdirSync(dir + 'lib').filter((f) => f.endsWith('.wgsl'))
      .map((f) => readFileSync(`${dir}lib/${f}`, 'utf8')).filter(usesShared)
      .flatMap((src) => [...src.matchAll(/^fn (\w+)\(/gm)].map((m) => m[1]!));
    expect(libFns).toContain('workgroup_sum');
    const shared = readdirSync(dir).filter((f) => f.endsWith('.wgsl')).filter((f) => {
      const src = readFileSync(dir + f, 'utf8');
      return usesShared(src) || libFns.some((fn) => src.includes(`${fn}(`));
    });
    expect(shared.sort()).toEqual([...new Set(cases.map((c) => c.shader))].sort());
  });
});

// Negative controls: the same harness must report a race once a barrier is taken out.
describe('the race check fails when a barrier is removed', () => {
  function withoutBarrier(c: RaceCase, nth: number): RaceDetectionResult {
    const p = prepare(c, 1);
    let k = 0;
    const code = p.code.replace(/workgroupBarrier\(\);/g, (m) => (k++ === nth ? '' : m));
    expect(k, 'barrier to remove exists').toBeGreaterThan(nth);
    return detectCounting(code, p.grid, p.groups);
  }

  it('softmax without the barrier before its tree reduction', () => {
    const r = withoutBarrier(cases.find((c) => c.name.startsWith('softmax 3×37'))!, 0);
    console.log(`softmax, barrier 0 removed: ${r.races.length} races, e.g. ${r.races[0]?.message}`);
    expect(r.races.some((x) => x.bufferId === 'red_max' || x.bufferId === 'red_sum')).toBe(true);
  });

  it('attention without the barrier after the K/V tile stores', () => {
    const r = withoutBarrier(cases.find((c) => c.name.startsWith('attention fused N=5 hd=16'))!, 0);
    console.log(`attention, barrier 0 removed: ${r.races.length} races, e.g. ${r.races[0]?.message}`);
    expect(r.races.some((x) => x.bufferId === 'k_tile')).toBe(true);
  });

  it('matmul f16 (its f32 twin) without the barrier after the tile stores', () => {
    const r = withoutBarrier(cases.find((c) => c.name.startsWith('matmul f16 tiled vec4'))!, 0);
    console.log(`matmul f16, barrier 0 removed: ${r.races.length} races, e.g. ${r.races[0]?.message}`);
    expect(r.races.some((x) => x.bufferId === 'As' || x.bufferId === 'Bs')).toBe(true);
  });

  it('matmul without the barrier that ends a K tile (next tile overwrites As/Bs being read)', () => {
    const r = withoutBarrier(cases.find((c) => c.name.startsWith('matmul tiled vec4'))!, 1);
    console.log(`matmul, barrier 1 removed: ${r.races.length} races, e.g. ${r.races[0]?.message}`);
    expect(r.races.some((x) => (x.bufferId === 'As' || x.bufferId === 'Bs') && x.a.kind !== x.b.kind)).toBe(true);
  });

  it('matmul tile32x64 (blocked shader) without the barrier that ends a K tile', () => {
    const r = withoutBarrier(cases.find((c) => c.name.startsWith('matmul tile32x64 vec4'))!, 1);
    console.log(`matmul tile32x64, barrier 1 removed: ${r.races.length} races, e.g. ${r.races[0]?.message}`);
    expect(r.races.some((x) => (x.bufferId === 'As' || x.bufferId === 'Bs') && x.a.kind !== x.b.kind)).toBe(true);
  });

  it('matmul int8 w (tile32x64 scalar) without the barrier after the tile stores', () => {
    const r = withoutBarrier(cases.find((c) => c.name.startsWith('matmul tile32x64 scalar int8'))!, 0);
    console.log(`matmul int8 tile32x64, barrier 0 removed: ${r.races.length} races, e.g. ${r.races[0]?.message}`);
    expect(r.races.some((x) => x.bufferId === 'As' || x.bufferId === 'Bs')).toBe(true);
  });

  // The store pattern matmul and patch_embed used before: invocations writing different components
  // of one workgroup vec4 in the same phase. WGSL allows such a write to access the whole vector.
  it('reports invocations writing different components of one vec4', () => {
    const code = `
      var<workgroup> tile: array<vec4<f32>, 4>;
      @group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
      @compute @workgroup_size(16)
      fn main(@builtin(local_invocation_index) lid: u32) {
        tile[lid / 4u][lid % 4u] = f32(lid);
        workgroupBarrier();
        if (lid < 4u) { out[lid] = tile[lid]; }
      }`;
    const r = detectCounting(code, [1, 1, 1], { 0: { 0: new ArrayBuffer(64) } });
    expect(r.races.length).toBeGreaterThan(0);
    expect(r.races.every((x) => x.bufferId === 'tile' && x.a.kind === 'write' && x.b.kind === 'write')).toBe(true);
  });
});
