import { describe, expect, it } from 'vitest';
import { MATMUL_FILL_WORKGROUPS, MATMUL_VERSIONS, matmul, matmulReference, splitCount, type MatmulEpilogue, type MatmulShape, type MatmulVersion } from '../../src/kernels/matmul.js';
import type { Gpu } from '../../src/runtime/device.js';
import { WEBGPU_DEFAULT_LIMITS } from '../../src/runtime/limits.js';
import { randomArray } from '../../src/kernels/check-harness.js';
import { createPlan, input } from '../../src/runtime/plan.js';
import { checks } from '../../src/kernels/matmul.check.js';
import { runChecks, useGpu } from '../node-gpu.js';
import { halfBitsToF32, toHalfBits } from '../../src/runtime/dtype.js';
import { runOnce } from '../../src/runtime/run-once.js';

describe('matmul (tiled and naive) vs float64 reference', () => runChecks(checks));

describe('matmul rejects bad input at record time', () => {
  const gpu = useGpu();
  const setup = () => {
    const plan = createPlan(gpu(), 'bad');
    return { plan, x: input(plan, 'x', [4, 8]), w: input(plan, 'w', [16, 8]) };
  };
  it('K mismatch names both shapes', () => {
    const { plan, w } = setup();
    const x = input(plan, 'x7', [4, 7]);
    expect(() => matmul(plan, x, w, null)).toThrow(/x 'x7' must be f32 or f16 \[\.\.\., 8\].*got \[4, 7\]/);
  });
  it('wrong bias length', () => {
    const { plan, x, w } = setup();
    const b = input(plan, 'b', [15]);
    expect(() => matmul(plan, x, w, b)).toThrow(/bias 'b' must be f32 \[16\], got \[15\]/);
  });
  it('wrong residual shape and dtype', () => {
    const { plan, x, w } = setup();
    const r = input(plan, 'r', [4, 15]);
    const s = input(plan, 's', [16]);
    expect(() => matmul(plan, x, w, null, { residual: { r, scale: s } })).toThrow(/residual r 'r'/);
    const r2 = input(plan, 'r2', [4, 16]);
    const s2 = input(plan, 's2', [16], 'u32');
    expect(() => matmul(plan, x, w, null, { residual: { r: r2, scale: s2 } })).toThrow(/residual scale 's2'.*u32/);
  });
  it('a quantized w and its scales are checked against K and the scheme', () => {
    const { plan, x } = setup();
    const scales8 = input(plan, 's8', [16]);
    const w8 = input(plan, 'w8', [16, 2], 'u32'); // K = 8: 2 words of int8 per row
    expect(() => matmul(plan, x, w8, null, { quant: { scheme: 'int8', groupSize: 8, scales: scales8 } })).not.toThrow();
    const wBad = input(plan, 'wbad', [16, 3], 'u32');
    expect(() => matmul(plan, x, wBad, null, { quant: { scheme: 'int8', groupSize: 8, scales: scales8 } })).toThrow(/int8 w 'wbad' must be u32 \[Nout, 2\].*got \[16, 3\] u32/);
    const w4 = input(plan, 'w4', [16, 1], 'u32');
    expect(() => matmul(plan, x, w4, null, { quant: { scheme: 'int4', groupSize: 32, scales: scales8 } })).toThrow(/int4 scales 's8' must be f32 with 16 × 2 values, got \[16\] f32/);
    expect(() => matmul(plan, x, w4, null, { quant: { scheme: 'int4', groupSize: 48, scales: scales8 } })).toThrow(/int4 group size 48 is not one of 32, 64, 128/);
  });
  it('w must be 2-D', () => {
    const { plan, x } = setup();
    const w3 = input(plan, 'w3', [2, 16, 8]);
    expect(() => matmul(plan, x, w3, null)).toThrow(/w 'w3' must be f32, bf16 or f16 \[Nout, K\]/);
  });
  it('w must be a float type', () => {
    const { plan, x } = setup();
    const wi = input(plan, 'wi', [16, 8], 'i32');
    expect(() => matmul(plan, x, wi, null)).toThrow(/w 'wi' must be f32, bf16 or f16 \[Nout, K\], got \[16, 8\] i32/);
  });
  it('unknown version and epilogue are named', () => {
    const { plan, x, w } = setup();
    expect(() => matmul(plan, x, w, null, { version: 'tiled32' as MatmulVersion })).toThrow(/unknown matmul version 'tiled32' \(one of: tiled, tiled64, tile32x128, tile32x64, tile128x128, splitk, naive\)/);
    expect(() => matmul(plan, x, w, null, { epilogue: 'relu' as MatmulEpilogue })).toThrow(/unknown epilogue 'relu'/);
  });
  it('16-bit x is rejected (only w may be 16-bit)', () => {
    const { plan, w } = setup();
    const xh = input(plan, 'xh', [4, 8], 'bf16');
    expect(() => matmul(plan, xh, w, null)).toThrow(/x 'xh' must be f32 .*bf16/);
  });
  it('output keeps leading dims', () => {
    const { plan, w } = setup();
    const x = input(plan, 'xb', [2, 3, 8]);
    expect(matmul(plan, x, w, null).shape).toEqual([2, 3, 16]);
  });
});

describe('matmulReference', () => {
  it('matches a hand-computed 2×2 case with bias and residual', () => {
    // x = [[1,2],[3,4]], w = [[1,0],[1,1]] → x·wᵀ = [[1,3],[3,7]]; +b [1,-1] → [[2,2],[4,6]];
    // r + s⊙ with r = 10, s = [0.5, 2] → [[11,14],[12,22]].
    const y = matmulReference([1, 2, 3, 4], [1, 0, 1, 1], [1, -1], 2, 2, 2, { residual: { r: [10, 10, 10, 10], scale: [0.5, 2] } });
    expect([...y]).toEqual([11, 14, 12, 22]);
  });
});

describe('matmul f16: clear errors where it cannot run', () => {
  const gpu = useGpu();
  it('f16 x on a device without shader-f16 names the feature', () => {
    const noF16 = { ...gpu(), features: { ...gpu().features, shaderF16: false } };
    const plan = createPlan(noF16, 'no-f16');
    const x = input(plan, 'x', [4, 8], 'f16');
    expect(() => matmul(plan, x, input(plan, 'w', [16, 8]), null)).toThrow(/x 'x' is f16, which needs the adapter feature 'shader-f16'/);
    const x32 = input(plan, 'x32', [4, 8]);
    expect(() => matmul(plan, x32, input(plan, 'w2', [16, 8]), null, { out: 'f16' })).toThrow(/the output is f16, which needs .*'shader-f16'/);
  });
  it("the 'naive' reference version is f32 only", () => {
    const plan = createPlan({ ...gpu(), features: { ...gpu().features, shaderF16: true } }, 'naive-f16');
    const x = input(plan, 'x', [4, 8], 'f16');
    expect(() => matmul(plan, x, input(plan, 'w', [16, 8]), null, { version: 'naive' })).toThrow(/'naive' version is the f32 reference/);
  });
});

describe('matmul f16 output: an overflow is ±inf, never a clamped value', () => {
  const gpu = useGpu();
  it('|y| > 65504 stores ±inf, NaN stays NaN, 60000 stays finite', async (ctx) => {
    if (!gpu().features.shaderF16) ctx.skip("the adapter has no 'shader-f16'");
    // y = x·wᵀ with K = 4: rows give 4·150·150 = 90000, −90000, 4·100·150 = 60000 (finite) and NaN.
    const x = new Float32Array([150, 150, 150, 150, -150, -150, -150, -150, 100, 100, 100, 100, NaN, 0, 0, 0]);
    const w = new Float32Array([150, 150, 150, 150]);
    const out = await runOnce(gpu(), { x: { data: toHalfBits(x, 'f16'), shape: [4, 4], dtype: 'f16' }, w: { data: w, shape: [1, 4] } },
      (plan, t) => ({ y: matmul(plan, t.x!, t.w!, null, { out: 'f16' }) }));
    const y = halfBitsToF32(out.y as Uint16Array, 'f16');
    expect([...y.slice(0, 2)]).toEqual([Infinity, -Infinity]);
    expect(y[2]).toBe(60000);
    expect(Number.isNaN(y[3])).toBe(true);
  });
});

describe('matmul versions: the heuristic and the device limits (recording only, no GPU)', () => {
  const fake = (limits: Partial<Record<keyof typeof WEBGPU_DEFAULT_LIMITS, number>> = {}): Gpu =>
    ({ limits: { ...WEBGPU_DEFAULT_LIMITS, ...limits }, features: { shaderF16: true, subgroups: false, timestamps: false } }) as unknown as Gpu;
  const shape = (M: number, N: number, K: number, more: Partial<MatmulShape> = {}): MatmulShape =>
    ({ M, N, K, w: 'f32', x: 'f32', y: 'f32', epilogue: 'none', residual: false, bias: true, ...more });
  const pick = (M: number, N: number, K: number, gpu = fake(), more: Partial<MatmulShape> = {}) => MATMUL_VERSIONS.heuristic(gpu, shape(M, N, K, more));
  const row = (name: string) => MATMUL_VERSIONS.versions.find((v) => v.name === name)!;

  it('InternViT-300M at 448 px: the highest-reuse blocked tile whose grid reaches 256 workgroups', () => {
    expect(MATMUL_FILL_WORKGROUPS).toBe(256);
    expect(pick(1025, 3072, 1024)).toBe('tile32x128');  // qkv: 128×128 gives 9·24 = 216, 32×128 gives 792
    expect(pick(1025, 1024, 1024)).toBe('tile32x128');  // proj: 128×128 gives 72, 32×128 gives 264
    expect(pick(1025, 4096, 1024)).toBe('tile128x128'); // fc1: 9·32 = 288
    expect(pick(1025, 1024, 4096)).toBe('tile32x128');  // fc2
    expect(pick(8 * 1025, 1024, 1024)).toBe('tile128x128'); // B = 8: 65·8 = 520
    expect(pick(1025, 12800, 3200)).toBe('tile128x128'); // 6B fc1
  });

  it('grids no tile fills: the tile with the most workgroups (split-K only by name or tuning: it is not bit-identical)', () => {
    expect(pick(257, 1024, 4096)).toBe('tile32x64'); // 224 px fc2: 32×64 gives 9·16 = 144
    expect(splitCount({ M: 257, N: 1024, K: 4096 })).toBe(4); // 64×64 gives 80 → ceil(256 / 80)
    expect(splitCount({ M: 5, N: 33, K: 1031 })).toBe(4); // capped by K / 256
    expect(splitCount({ M: 5, N: 33, K: 511 })).toBe(1);
    expect(pick(257, 128, 128)).toBe('tile32x64');
    expect(row('splitk').unavailable!(fake(), shape(5, 33, 511))).toMatch(/K = 511 is too short to split/);
  });

  it('a tile over the device workgroup-memory or invocation limit is unavailable, saying which; the heuristic skips it', () => {
    const small = fake({ maxComputeWorkgroupStorageSize: 8192 });
    expect(row('tile128x128').unavailable!(small, shape(8200, 1024, 1024))).toMatch(/var<workgroup> As .* needs 8448 for maxComputeWorkgroupStorageSize, over this device's 8192/);
    expect(row('tiled').unavailable!(small, shape(8200, 1024, 1024))).toMatch(/maxComputeWorkgroupStorageSize/);
    expect(pick(8200, 1024, 1024, small)).toBe('tile32x64'); // 6.6 KiB: the only tile that fits
    // f16 X and W: f16 tiles, half the bytes: 128×128 fits again.
    expect(pick(8200, 1024, 1024, small, { x: 'f16', w: 'f16' })).toBe('tile128x128');
    const fewThreads = fake({ maxComputeInvocationsPerWorkgroup: 128 });
    expect(row('tiled').unavailable!(fewThreads, shape(8200, 1024, 1024))).toMatch(/@workgroup_size .*needs 256 for maxComputeInvocationsPerWorkgroup, over this device's 128/);
    expect(pick(8200, 1024, 1024, fewThreads)).toBe('tile32x64'); // 128 threads
    // A grid over maxComputeWorkgroupsPerDimension (micro-batching splits batches on it).
    const fewGroups = fake({ maxComputeWorkgroupsPerDimension: 4 });
    expect(row('tile32x64').unavailable!(fewGroups, shape(15, 512, 16))).toMatch(/grid of 8×1×1 workgroups is over this device's maxComputeWorkgroupsPerDimension 4/);
    expect(['tile128x128', 'tiled', 'tile32x128']).toContain(pick(15, 512, 16, fewGroups));
    expect(() => pick(15, 1024, 16, fewGroups)).toThrow(/no tiled version can run M15 N1024 K16 .*tile32x64: its grid of 16×1×1 workgroups/);
    // Asked for by name, an unavailable version is a clear error.
    const plan = createPlan(small, 'small');
    expect(() => matmul(plan, input(plan, 'x', [8200, 1024]), input(plan, 'w', [1024, 1024]), null, { version: 'tile128x128' }))
      .toThrow(/matmul version 'tile128x128' cannot run here: .*maxComputeWorkgroupStorageSize/);
  });

  it('split-K records two dispatches: the K slices into an f32 scratch [S, M, N], then the reduce with the epilogue', () => {
    const plan = createPlan(fake(), 'splitk');
    const y = matmul(plan, input(plan, 'x', [37, 600], 'f16'), input(plan, 'w', [70, 600], 'bf16'), input(plan, 'b', [70]), { version: 'splitk', out: 'f16', epilogue: 'gelu' });
    const ops = plan.ops.filter((o) => o.type === 'dispatch');
    expect(ops.map((o) => o.label)).toEqual(['matmul (split-K ×2)', 'matmul (split-K reduce)']);
    expect(ops.map((o) => o.workgroups)).toEqual([[2, 1, 2], [11, 1, 1]]);
    expect(ops[0]!.bindings.y!.shape).toEqual([2, 37, 70]);
    expect(ops[0]!.bindings.y!.dtype).toBe('f32');
    expect(ops[0]!.constants).toMatchObject({ KS: 304, HAS_BIAS: 0, EPILOGUE: 0 });
    expect(ops[1]!.constants).toMatchObject({ SPLITS: 2, HAS_BIAS: 1, EPILOGUE: 1 });
    expect(y.dtype).toBe('f16');
  });
});

// Micro-batching promises per-image results bit for bit, and the heuristic picks by M, so a pass of
// one image and a pass of seven may run different tile versions. They must then agree exactly: every
// tile version adds the K products of an output in the same order (k = 0, 1, …, K−1). Split-K does
// not (it adds slices), which ARCHITECTURE.md says.
describe('matmul tile versions agree bit for bit', () => {
  const gpu = useGpu();
  it('tiled, tiled64, tile32x128, tile32x64, tile128x128 on ragged M, N, K with every epilogue', async () => {
    const [M, N, K] = [67, 129, 100];
    const x = randomArray(M * K, 91, -1, 1);
    const w = randomArray(N * K, 92, -1, 1);
    const b = randomArray(N, 93, -1, 1);
    const r = randomArray(M * N, 94, -1, 1);
    const s = randomArray(N, 95, -1, 1);
    const bits: Uint32Array[] = [];
    const versions: MatmulVersion[] = ['tiled', 'tiled64', 'tile32x128', 'tile32x64', 'tile128x128'];
    for (const version of versions) {
      const out = await runOnce(gpu(), { x: { data: x, shape: [M, K] }, w: { data: w, shape: [N, K] }, b: { data: b, shape: [N] }, r: { data: r, shape: [M, N] }, s: { data: s, shape: [N] } },
        (plan, t) => ({ y: matmul(plan, t.x!, t.w!, t.b!, { version, epilogue: 'gelu', residual: { r: t.r!, scale: t.s! } }) }));
      const y = out.y as Float32Array;
      bits.push(new Uint32Array(y.buffer, y.byteOffset, y.length));
    }
    for (let i = 1; i < versions.length; i++) {
      const differ = bits[i]!.findIndex((v, j) => v !== bits[0]![j]);
      expect(differ, `${versions[i]} vs tiled: first differing output`).toBe(-1);
    }
  });
});
