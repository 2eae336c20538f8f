import { ATTENTION_VERSIONS, attention, attentionReference, type AttentionVersion } from './attention.js';
import { runOnce } from '../runtime/run-once.js';
import { halfBitsToF32 } from '../runtime/dtype.js';
import { ATOL, compare, f16Values, needsShaderF16, needsSubgroups, randomArray, rng, RTOL_F16_OUT, type KernelCheck } from './check-harness.js';

interface Case {
  batch: number;
  n: number;
  heads: number;
  headDim: number;
  /** InternViT-style massive activations: scores in the hundreds. */
  massive?: boolean;
  /** q and k as the qk-norm (InternViT-6B) leaves them: each token's q (and k) RMS-normalised over all D, times a weight. */
  qkNorm?: boolean;
  /** Default: every version of ATTENTION_VERSIONS (f16: every fused one). */
  versions?: AttentionVersion[];
  /** f16 qkv and out (precision 'f16'; fused only): needs shader-f16. */
  f16?: boolean;
}

/**
 * qkv [B, N, 3D] uniform in [-2, 2) (spread enough that softmax is far from uniform). With `massive`,
 * two channels of every head's q and k carry ±(25..40), as in pretrained ViTs: scores reach the
 * hundreds, where exp() without the max subtracted overflows f32 (exp(89) > 3.4e38). The check
 * asserts from the inputs that some |score| exceeds 100. (v stays O(1): with a v channel of ±100 the
 * output is a cancellation whose f32 error, ~1e-5·|v|, says nothing about the kernel.)
 */
function makeQkv(c: Case, seed: number): Float32Array {
  const d = c.heads * c.headDim;
  const x = randomArray(c.batch * c.n * 3 * d, seed, -2, 2);
  if (c.qkNorm) {
    // qkRmsNorm normalises the q (and k) part of each token over all D = heads·hd columns, then
    // scales by a per-channel weight (here in [0.5, 2.5): the checkpoints' weights are O(1)).
    const weights = randomArray(2 * d, seed + 2, 0.5, 2.5);
    for (let t = 0; t < c.batch * c.n; t++) {
      for (const part of [0, 1]) {
        const at = t * 3 * d + part * d;
        let ss = 0;
        for (let e = 0; e < d; e++) ss += x[at + e]! ** 2;
        const inv = 1 / Math.sqrt(ss / d + 1e-6);
        for (let e = 0; e < d; e++) x[at + e] = x[at + e]! * inv * weights[part * d + e]!;
      }
    }
  }
  if (!c.massive) return x;
  const r = rng(seed + 1);
  const sign = () => (r() < 0.5 ? -1 : 1);
  for (let t = 0; t < c.batch * c.n; t++) {
    for (let h = 0; h < c.heads; h++) {
      for (const ch of [1, c.headDim - 3]) {
        x[t * 3 * d + h * c.headDim + ch] = sign() * (25 + 15 * r());
        x[t * 3 * d + d + h * c.headDim + ch] = sign() * (25 + 15 * r());
      }
    }
  }
  return x;
}

function maxAbsScore(qkv: Float32Array, c: Case): number {
  const d = c.heads * c.headDim;
  let max = 0;
  for (let b = 0; b < c.batch; b++) for (let h = 0; h < c.heads; h++) for (let i = 0; i < c.n; i++) for (let j = 0; j < c.n; j++) {
    let s = 0;
    for (let e = 0; e < c.headDim; e++) s += qkv[(b * c.n + i) * 3 * d + h * c.headDim + e]! * qkv[(b * c.n + j) * 3 * d + d + h * c.headDim + e]!;
    max = Math.max(max, Math.abs(s / Math.sqrt(c.headDim)));
  }
  return max;
}

// The model's head sizes (64, 128) with few heads and small N; hd 16/32, and odd splits: hd 96 (3
// threads per query in 'fused'; 4 lanes of 6 columns in 'fused-subgroup') and hd 20 (5 vec4
// columns); N = 1, 2 (tiny), 5, 17, 65, 130, 257 (ragged against every query and key block of every
// version) and 1025 (a 448 px sequence) with a narrow head; the qk-norm shape of InternViT-6B
// (hd 128). Shapes repeat where they can: each distinct (N, heads, hd) is a pipeline to compile per
// version, the slow part on software adapters.
const cases: Case[] = [
  { batch: 2, n: 130, heads: 2, headDim: 64 },
  { batch: 2, n: 130, heads: 2, headDim: 64, massive: true },
  { batch: 2, n: 65, heads: 2, headDim: 128 },
  { batch: 2, n: 65, heads: 2, headDim: 128, massive: true },
  { batch: 2, n: 17, heads: 3, headDim: 32 },
  { batch: 2, n: 1, heads: 2, headDim: 16 },
  { batch: 2, n: 2, heads: 1, headDim: 64 },
  { batch: 2, n: 1025, heads: 1, headDim: 16 },
  { batch: 1, n: 257, heads: 2, headDim: 64 },
  { batch: 1, n: 5, heads: 2, headDim: 96 },
  { batch: 1, n: 5, heads: 1, headDim: 20 },
  { batch: 1, n: 33, heads: 2, headDim: 128, qkNorm: true },
  { batch: 2, n: 17, heads: 2, headDim: 6, versions: ['unfused'] }, // the unfused kernels take any hd
  // f16 qkv/out, f32 scores, softmax and sums (precision 'f16'): both model head sizes (f16 tiles
  // fit more keys per block), massive activations, ragged blocks, N = 1 and 1025, qk-norm.
  { batch: 2, n: 130, heads: 2, headDim: 64, massive: true, f16: true },
  { batch: 2, n: 65, heads: 2, headDim: 128, f16: true },
  { batch: 2, n: 17, heads: 3, headDim: 32, f16: true },
  { batch: 2, n: 1, heads: 2, headDim: 16, f16: true },
  { batch: 2, n: 1025, heads: 1, headDim: 16, f16: true },
  { batch: 1, n: 33, heads: 2, headDim: 128, qkNorm: true, f16: true },
];

const allVersions = ATTENTION_VERSIONS.versions.map((v) => v.name as AttentionVersion);
const fusedVersions = allVersions.filter((v) => v !== 'unfused');

export const checks: KernelCheck[] = cases.flatMap((c, i) => (c.versions ?? (c.f16 ? fusedVersions : allVersions)).map((version): KernelCheck => ({
  name: `attention ${c.f16 ? 'f16 ' : ''}${version} B=${c.batch} N=${c.n} heads=${c.heads} hd=${c.headDim}${c.massive ? ' massive activations' : ''}${c.qkNorm ? ' qk-norm' : ''}`,
  async run(gpu) {
    const d = c.heads * c.headDim;
    const skip = (c.f16 ? needsShaderF16(gpu, this.name) : null) ?? needsSubgroups(gpu, this.name, version === 'fused-subgroup' ? 'subgroup' : 'workgroup');
    if (skip) return skip;
    // f16: the kernel gets f16 values and the reference the same values, so only the kernel's own
    // error (f32 math, the output's rounding to f16) is measured.
    const q16 = c.f16 ? f16Values(makeQkv(c, 500 + i)) : null;
    const qkv = q16 ? q16.values : makeQkv(c, 500 + i);
    if (c.massive) {
      const s = maxAbsScore(qkv, c);
      if (s < 100) throw new Error(`${this.name}: test inputs reach |score| ${s.toFixed(1)} only, not the hundreds`);
    }
    const input = q16 ? { data: q16.bits, shape: [c.batch, c.n, 3 * d], dtype: 'f16' as const } : { data: qkv, shape: [c.batch, c.n, 3 * d] };
    const out = await runOnce(gpu, { qkv: input },
      (plan, { qkv }) => ({ out: attention(plan, qkv!, { heads: c.heads, headDim: c.headDim, version }) }));
    const want = attentionReference(qkv, c.batch, c.n, c.heads, c.headDim);
    if (q16) return compare(this.name, halfBitsToF32(out.out as Uint16Array, 'f16'), want, ATOL, RTOL_F16_OUT);
    return compare(this.name, out.out as Float32Array, want);
  },
})));
