// The custom-kernel example used inside a plan together with a built-in kernel.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../../test/node-gpu.js';
import { compare, formatResult, randomArray } from '../../src/kernels/check-harness.js';
import { compilePlan, constant, createPlan, disposePlan, input, output, runPlan, uploadTensor } from '../../src/index.js';
import { gelu, geluReference } from '../../src/kernels.js';
import { scaleShift, scaleShiftReference } from './scale-shift.js';

describe('custom kernel example (scale-shift) in a plan', () => {
  const gpu = useGpu();

  it('gelu(x · scale + shift) matches the CPU reference at a ragged shape', async () => {
    const rows = 37, cols = 70;
    const x = randomArray(rows * cols, 1, -3, 3);
    const s = randomArray(cols, 2, 0.5, 2);
    const g = gpu();
    const scale = uploadTensor(g, s, [cols], 'f32', 'scale');
    const plan = createPlan(g, 'example');
    const xin = input(plan, 'x', [rows, cols]);
    output(plan, 'y', gelu(plan, scaleShift(plan, xin, constant(plan, scale), 0.25)));
    const compiled = await compilePlan(plan);
    const out = await runPlan(compiled, { x });
    const want = geluReference(scaleShiftReference(x, s, 0.25));
    const r = compare('scale-shift → gelu', out.y as Float32Array, want);
    console.log(formatResult(r));
    expect(r.ok).toBe(true);
    disposePlan(compiled);
  });

  it('rejects a tensor of the wrong size, naming the binding', () => {
    const g = gpu();
    const scale = uploadTensor(g, new Float32Array(5), [5], 'f32', 'scale5');
    const plan = createPlan(g, 'example');
    const xin = input(plan, 'x', [3, 4]);
    expect(() => scaleShift(plan, xin, constant(plan, scale), 0)).toThrow(/binding 'scale'.*expects 4 elements.*scale5/);
  });
});
