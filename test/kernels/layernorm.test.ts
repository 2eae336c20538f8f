import { describe, expect, it } from 'vitest';
import { layernorm } from '../../src/kernels/layernorm.js';
import { isF16Check } from '../../src/kernels/check-harness.js';
import type { Gpu } from '../../src/runtime/device.js';
import { createPlan, input } from '../../src/runtime/plan.js';
import { checks } from '../../src/kernels/layernorm.check.js';
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

describe('layernorm reduction variants', () => {
  it('every check runs for both reductions, named by variant, and f16 ones stay selectable by --precision', () => {
    const sub = checks.filter((c) => c.name.startsWith('layernorm subgroup '));
    const wg = checks.filter((c) => c.name.startsWith('layernorm workgroup '));
    expect(sub.length).toBe(wg.length);
    expect(sub.length + wg.length).toBe(checks.length);
    expect(sub.map((c) => c.name.replace(' subgroup ', ' '))).toEqual(wg.map((c) => c.name.replace(' workgroup ', ' ')));
    expect(sub.filter((c) => isF16Check(c.name)).length).toBeGreaterThan(0);
  });
  it("asking for the subgroup reduction without the 'subgroups' feature is a clear error", () => {
    const p = createPlan({ features: { subgroups: false } } as unknown as Gpu, 'errors');
    expect(() => layernorm(p, input(p, 'x', [2, 8]), input(p, 'w', [8]), null, 1e-6, 'ln', 'f32', 'subgroup')).toThrow(/ln: the subgroup reduction needs the adapter feature 'subgroups'/);
  });
});
