import { describe, expect, it } from 'vitest';
import { layernorm } from '../../src/kernels/layernorm.js';
import type { Gpu } from '../../src/runtime/device.js';
import { createPlan, input } from '../../src/runtime/plan.js';
import { checks } from '../checks/layernorm.js';
import { runChecks } from '../node-gpu.js';

describe('layernorm vs float64 reference', () => runChecks(checks));

describe('layernorm input errors (recorded on a plan, no GPU needed)', () => {
  const plan = () => createPlan({} as Gpu, 'errors');
  it('names a weight of the wrong size', () => {
    const p = plan();
    expect(() => layernorm(p, input(p, 'x', [5, 8]), input(p, 'w', [7]), null, 1e-6)).toThrow(/weight 'w' must be f32 with 8 elements, got \[7\]/);
  });
  it('refuses rows longer than the registers hold', () => {
    const p = plan();
    expect(() => layernorm(p, input(p, 'x', [1, 20000]), input(p, 'w', [20000]), null, 1e-6)).toThrow(/row length 20000 exceeds 16384/);
  });
});
