import { matmul, matmulReference, type MatmulEpilogue, type MatmulVersion, type MatmulWeightDType } from './matmul.js';
import { halfBitsToF32, toHalfBits } from '../runtime/dtype.js';
import { dequantize, quantizeRows, quantLayout, scalesShape, wordsPerRow } from '../runtime/quant.js';
import type { HostTensor } from '../runtime/run-once.js';
import { runOnce } from '../runtime/run-once.js';
import { ATOL, compare, f16Values, needsShaderF16, randomArray, RTOL_F16_OUT, type KernelCheck } from './check-harness.js';

interface Case {
  /** x's shape [..., K]; leading dims flatten into M. */
  xShape: number[];
  N: number;
  bias: boolean;
  epilogue: MatmulEpilogue;
  residual: boolean;
  /** How W is stored (default f32). */
  wDType?: MatmulWeightDType;
  /** int4: input channels per scale (default 32). */
  groupSize?: number;
  /** Versions run on this case besides 'tiled' (and 'naive' for f32 cases). */
  more?: MatmulVersion[];
  /** Skip the 'naive' reference kernel here (it is checked on the first cases; every check compiles a pipeline). */
  noNaive?: true;
  /** f16 compute: X is f16 (and W's tile too when W is f16); `out` is Y's type. Needs shader-f16. */
  f16?: { out: 'f32' | 'f16' };
}

// The blocked-shader tiles (src/kernels/matmul.ts MATMUL_VERSIONS) share one shader with different
// tile overrides: 32×128 and 32×64 keep 4×4 per thread, 128×128 8×8 with BK = 8.
const ALL_TILES: MatmulVersion[] = ['tiled64', 'tile32x128', 'tile32x64', 'tile128x128'];

// Ragged everywhere: no M, N or K is a multiple of any tile (64×128×16, 32×64, 128×128×8) except
// where a case says so. K % 4 == 0 takes the vec4 path, other K the scalar path. Split-K needs
// K ≥ 512 (two slices of at least 256): its cases cut K into 2 and 4 slices, the last one ragged.
const cases: Case[] = [
  { xShape: [1, 97], N: 129, bias: true, epilogue: 'none', residual: false, more: ['tile32x64'] },  // M = 1, scalar K
  { xShape: [67, 3], N: 129, bias: false, epilogue: 'none', residual: false, more: ['tile128x128'] }, // K = 3 < one vec4
  { xShape: [67, 100], N: 129, bias: true, epilogue: 'gelu', residual: false, more: ALL_TILES }, // vec4, K % 16 = 4
  { xShape: [67, 97], N: 65, bias: false, epilogue: 'gelu', residual: false, more: ['tiled64', 'tile32x64', 'tile128x128'] }, // scalar, no bias
  { xShape: [67, 64], N: 130, bias: false, epilogue: 'none', residual: true },      // layer-scale residual
  { xShape: [1025, 16], N: 16, bias: true, epilogue: 'none', residual: true, more: ['tile128x128'] }, // 1025 tokens (448 px)
  { xShape: [2, 33, 40], N: 72, bias: true, epilogue: 'gelu', residual: true, more: ['tiled64', 'tile32x128'] }, // batched, both epilogues
  { xShape: [129, 35], N: 257, bias: true, epilogue: 'gelu', residual: false, more: ['tile128x128'] }, // 3×3 tiles, scalar
  { xShape: [130, 256], N: 256, bias: true, epilogue: 'none', residual: false, more: ['tile128x128'] }, // 16 K tiles, vec4
  { xShape: [33, 64], N: 1025, bias: true, epilogue: 'none', residual: false, more: ['tile32x128', 'tile128x128'], noNaive: true }, // N = 1025
  // Split-K: 2 slices (K = 600: 304 + 296), 4 slices (K = 1031 scalar: 3 × 272 + 215).
  { xShape: [37, 600], N: 70, bias: true, epilogue: 'gelu', residual: true, more: ['splitk'], noNaive: true },
  { xShape: [5, 1031], N: 33, bias: false, epilogue: 'none', residual: false, more: ['splitk'], noNaive: true },
  // 16-bit weights (packed pairs widened in the kernel): vec4 (vec2<u32> loads) and scalar paths;
  // odd N·K leaves the last word half used.
  { xShape: [67, 100], N: 129, bias: true, epilogue: 'gelu', residual: false, wDType: 'bf16', more: ['tile32x128'] },
  { xShape: [67, 97], N: 65, bias: false, epilogue: 'none', residual: true, wDType: 'bf16', more: ['tile32x64', 'tile128x128'] }, // N·K odd
  { xShape: [2, 33, 40], N: 72, bias: true, epilogue: 'gelu', residual: true, wDType: 'f16', more: ['tile32x64'] },
  { xShape: [129, 35], N: 257, bias: true, epilogue: 'none', residual: false, wDType: 'f16', more: ['tiled64', 'tile128x128'] }, // N·K odd
  { xShape: [37, 600], N: 70, bias: false, epilogue: 'none', residual: true, wDType: 'bf16', more: ['splitk'], noNaive: true },
  { xShape: [5, 1031], N: 33, bias: true, epilogue: 'gelu', residual: false, wDType: 'f16', more: ['splitk'], noNaive: true }, // N·K odd
  // f16 compute (precision 'f16'): f16 X, f32 sums; Y f16 where the model stores f16 (qkv, fc1),
  // f32 with the residual epilogue (proj, fc2: the residual stream stays f32). Every W storage.
  { xShape: [67, 100], N: 129, bias: true, epilogue: 'gelu', residual: false, wDType: 'f16', more: ALL_TILES, f16: { out: 'f16' } },
  { xShape: [67, 97], N: 65, bias: false, epilogue: 'none', residual: true, wDType: 'bf16', more: ['tiled64', 'tile32x64', 'tile128x128'], f16: { out: 'f32' } },
  { xShape: [1025, 16], N: 16, bias: true, epilogue: 'none', residual: false, more: ['tile128x128'], f16: { out: 'f16' } },   // 1025 tokens, f32 W
  { xShape: [2, 33, 40], N: 72, bias: true, epilogue: 'none', residual: true, wDType: 'f16', more: ['tile32x64'], f16: { out: 'f32' } },
  { xShape: [129, 35], N: 257, bias: false, epilogue: 'gelu', residual: false, wDType: 'f16', more: ['tile128x128'], f16: { out: 'f16' } }, // scalar, N·K odd
  { xShape: [130, 256], N: 256, bias: true, epilogue: 'none', residual: true, f16: { out: 'f32' } },   // 16 K tiles, f32 W
  { xShape: [37, 600], N: 70, bias: true, epilogue: 'gelu', residual: false, wDType: 'f16', more: ['splitk'], f16: { out: 'f16' } },
  { xShape: [5, 1031], N: 33, bias: true, epilogue: 'none', residual: true, more: ['splitk'], f16: { out: 'f32' } },  // scalar, f32 W
  // int8 / int4 W (packed integers dequantized in the W load, shaders/lib/dequant_w.wgsl via
  // matmul_operands.wgsl; the reference gets q · scale in float64): vec4 K (one word or half-word
  // per quad) and scalar K (words straddling rows' ends are padded), K not a multiple of the int4
  // group (a short last group), both precisions, the tile versions, split-K (slices that cut groups).
  { xShape: [67, 100], N: 129, bias: true, epilogue: 'gelu', residual: false, wDType: 'int8', more: ['tiled64', 'tile32x128', 'tile128x128'] },  // vec4, K % 16 = 4
  { xShape: [67, 97], N: 65, bias: false, epilogue: 'none', residual: true, wDType: 'int8', more: ['tile32x64'] },    // scalar K
  { xShape: [1, 3], N: 5, bias: true, epilogue: 'none', residual: false, wDType: 'int8' },       // K = 3 < one word
  { xShape: [67, 100], N: 129, bias: true, epilogue: 'gelu', residual: false, wDType: 'int4', groupSize: 32, more: ['tiled64', 'tile32x64', 'tile128x128'] }, // 4 groups, last 4 wide
  { xShape: [67, 97], N: 65, bias: false, epilogue: 'none', residual: true, wDType: 'int4', groupSize: 64, more: ['tile128x128'] }, // scalar, short group
  { xShape: [2, 33, 136], N: 72, bias: true, epilogue: 'gelu', residual: true, wDType: 'int4', groupSize: 128 }, // batched, K > group
  { xShape: [37, 600], N: 70, bias: true, epilogue: 'gelu', residual: true, wDType: 'int8', more: ['splitk'], noNaive: true },   // 2 slices, vec4
  { xShape: [5, 1031], N: 33, bias: false, epilogue: 'none', residual: false, wDType: 'int4', groupSize: 64, more: ['splitk'], noNaive: true }, // 4 slices, scalar
  { xShape: [67, 100], N: 129, bias: true, epilogue: 'gelu', residual: false, wDType: 'int8', more: ['tiled64', 'tile32x128'], f16: { out: 'f16' } },
  { xShape: [67, 97], N: 65, bias: false, epilogue: 'none', residual: true, wDType: 'int4', groupSize: 32, more: ['tile32x64'], f16: { out: 'f32' } },
  { xShape: [130, 256], N: 256, bias: true, epilogue: 'none', residual: false, wDType: 'int4', groupSize: 64, more: ['tile128x128'], f16: { out: 'f16' } },
  { xShape: [37, 600], N: 70, bias: true, epilogue: 'gelu', residual: false, wDType: 'int4', groupSize: 128, more: ['splitk'], f16: { out: 'f16' } }, // slices of 304 cut groups
  { xShape: [5, 1031], N: 33, bias: true, epilogue: 'none', residual: true, wDType: 'int8', more: ['splitk'], f16: { out: 'f32' } },
];

// 'naive' is the f32 reference kernel: f16 cases run the tiled versions only.
const versionsOf = (c: Case): MatmulVersion[] => ['tiled', ...(c.more ?? []), ...(c.f16 || c.noNaive ? [] : ['naive' as const])];

function caseName(c: Case, version: MatmulVersion): string {
  const K = c.xShape[c.xShape.length - 1]!;
  const parts = [`x [${c.xShape.join(', ')}]`, `N=${c.N}`, K % 4 === 0 ? 'vec4 K' : 'scalar K', c.bias ? 'bias' : 'no bias', c.epilogue];
  if (c.residual) parts.push('residual');
  if (c.wDType && c.wDType !== 'f32') parts.push(`${c.wDType}${c.wDType === 'int4' ? ` g${c.groupSize ?? 32}` : ''} w`);
  if (c.f16) parts.push(`${c.f16.out} out`);
  return `matmul ${c.f16 ? 'f16 ' : ''}${version}: ${parts.join(', ')}`;
}

export const checks: KernelCheck[] = cases.flatMap((c, i) => versionsOf(c).map((version) => ({
  name: caseName(c, version),
  async run(gpu) {
    const K = c.xShape[c.xShape.length - 1]!;
    const M = c.xShape.slice(0, -1).reduce((a, b) => a * b, 1);
    const { N } = c;
    const seed = 1000 * (i + 1);
    if (c.f16) {
      const skip = needsShaderF16(gpu, this.name);
      if (skip) return skip;
    }
    // f16 X: the kernel gets f16 values, the reference the same values (exactly representable).
    const x16 = c.f16 ? f16Values(randomArray(M * K, seed, -1, 1)) : null;
    const x = x16 ? x16.values : randomArray(M * K, seed, -1, 1);
    const wDType = c.wDType ?? 'f32';
    const wInput = weightInput(wDType, N, K, seed + 1, c.groupSize ?? 32);
    const w = wInput.values;
    const bias = c.bias ? randomArray(N, seed + 2, -1, 1) : null;
    const r = c.residual ? randomArray(M * N, seed + 3, -2, 2) : null;
    // Layer-scale values are small in trained models (init 0.1, often ~1e-2); mix signs and sizes.
    const scale = c.residual ? randomArray(N, seed + 4, -0.5, 0.5) : null;
    const outShape = [...c.xShape.slice(0, -1), N];
    const inputs: Record<string, HostTensor> = { x: x16 ? { data: x16.bits, shape: c.xShape, dtype: 'f16' } : { data: x, shape: c.xShape }, ...wInput.tensors };
    if (bias) inputs.bias = { data: bias, shape: [N] };
    if (r && scale) {
      inputs.r = { data: r, shape: outShape };
      inputs.scale = { data: scale, shape: [N] };
    }
    const out = await runOnce(gpu, inputs, (plan, t) => ({
      y: matmul(plan, t.x!, t.w!, t.bias ?? null, {
        epilogue: c.epilogue, version, out: c.f16?.out,
        residual: t.r && t.scale ? { r: t.r, scale: t.scale } : undefined,
        quant: wDType === 'int8' || wDType === 'int4' ? { scheme: wDType, groupSize: c.groupSize ?? 32, scales: t.wscale! } : undefined,
      }),
    }));
    const want = matmulReference(x, w, bias, M, N, K, {
      epilogue: c.epilogue,
      residual: r && scale ? { r, scale } : undefined,
    });
    if (c.f16?.out === 'f16') return compare(this.name, halfBitsToF32(out.y as Uint16Array, 'f16'), want, ATOL, RTOL_F16_OUT);
    return compare(this.name, out.y as Float32Array, want);
  },
})));

/**
 * W's kernel inputs and the values the reference multiplies by. 16-bit: the bit patterns, and the
 * values they hold. int8 / int4: the packed integers and scales from the quantizer (src/runtime/
 * quant.ts), and q · scale in float64: the kernel must dequantize exactly what the quantizer wrote.
 */
function weightInput(wDType: MatmulWeightDType, N: number, K: number, seed: number, groupSize: number): { values: ArrayLike<number>; tensors: Record<string, HostTensor> } {
  const raw = randomArray(N * K, seed, -1, 1);
  if (wDType === 'f32') return { values: raw, tensors: { w: { data: raw, shape: [N, K] } } };
  if (wDType === 'bf16' || wDType === 'f16') {
    const bits = toHalfBits(raw, wDType);
    return { values: halfBitsToF32(bits, wDType), tensors: { w: { data: bits, shape: [N, K], dtype: wDType } } };
  }
  const l = quantLayout(wDType, N, K, groupSize);
  const q = quantizeRows(raw, N, l);
  return {
    values: dequantize(q, l),
    tensors: { w: { data: q.packed, shape: [N, wordsPerRow(l)], dtype: 'u32' }, wscale: { data: q.scales, shape: scalesShape(l) } },
  };
}
