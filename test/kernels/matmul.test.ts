import { describe, expect, it } from 'vitest';
import { matmul, matmulReference, type MatmulEpilogue, type MatmulVersion } from '../../src/kernels/matmul.js';
import { createPlan, input } from '../../src/runtime/plan.js';
import { checks } from '../checks/matmul.js';
import { runChecks, useGpu } from '../node-gpu.js';

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
    expect(() => matmul(plan, x, w, null)).toThrow(/x 'x7' must be f32 \[\.\.\., 8\].*got \[4, 7\]/);
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
    expect(() => matmul(plan, x, w, null, { version: 'tiled32' as MatmulVersion })).toThrow(/unknown version 'tiled32' \(use 'tiled', 'tiled64' or 'naive'\)/);
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
