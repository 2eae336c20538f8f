import { describe, expect, it } from 'vitest';
import { matmul, matmulReference, type MatmulEpilogue, type MatmulVersion } from '../../src/kernels/matmul.js';
import { createPlan, input } from '../../src/runtime/plan.js';
import { checks } from '../checks/matmul.js';
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
    expect(() => matmul(plan, x, w, null, { version: 'tiled32' as MatmulVersion })).toThrow(/unknown matmul version 'tiled32' \(one of: tiled, tiled64, naive\)/);
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
