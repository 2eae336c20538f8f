import { describe, expect, it } from 'vitest';
import { qkRmsNorm, rmsnorm } from '../../src/kernels/rmsnorm.js';
import type { Gpu } from '../../src/runtime/device.js';
import { createPlan, input } from '../../src/runtime/plan.js';
import { checks } from '../../src/kernels/rmsnorm.check.js';
import { runChecks } from '../node-gpu.js';

describe('rmsnorm and qkRmsNorm vs float64 reference', () => runChecks(checks));

describe('rmsnorm / qkRmsNorm input errors (recorded on a plan, no GPU needed)', () => {
  it('names a qkv whose last dim is not 3D', () => {
    const p = createPlan({} as Gpu, 'errors');
    expect(() => qkRmsNorm(p, input(p, 'qkv', [2, 10]), input(p, 'q', [3]), input(p, 'k', [3]), 1e-6)).toThrow(/qkv 'qkv' must be f32 or f16 \[\.\.\., 3D\], got \[2, 10\]/);
  });
  it('names a k weight of the wrong size', () => {
    const p = createPlan({} as Gpu, 'errors');
    expect(() => qkRmsNorm(p, input(p, 'qkv', [2, 12]), input(p, 'q', [4]), input(p, 'k', [12]), 1e-6)).toThrow(/kWeight 'k' must be f32 with 4 elements/);
  });
  it('names an rmsnorm weight of the wrong size', () => {
    const p = createPlan({} as Gpu, 'errors');
    expect(() => rmsnorm(p, input(p, 'x', [2, 12]), input(p, 'w', [4]), 1e-6)).toThrow(/weight 'w' must be f32 with 12 elements/);
  });
});
