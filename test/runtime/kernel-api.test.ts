// The kernel API: bindings reflected from WGSL; binding mistakes fail naming the binding.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../node-gpu.js';
import {
  compilePlan, constant, createPlan, defineKernel, dispatch, getPipeline, input, intermediate, output, uploadTensor,
} from '../../src/internal.js';

const SRC = `
override N: u32;
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < N) { out[g.x] = a[idx[g.x]].x; }
}`;

describe('kernel API', () => {
  const gpu = useGpu();
  const k = defineKernel({ name: 'gather4', source: SRC });

  it('reflects bindings, element types and override constants from the WGSL', () => {
    expect(k.bindings.map((b) => [b.name, b.binding, b.access, b.scalar, b.elementBytes, b.runtimeSized])).toEqual([
      ['a', 0, 'read', 'f32', 16, true],
      ['idx', 1, 'read', 'u32', 4, true],
      ['out', 2, 'read_write', 'f32', 4, true],
    ]);
    expect([...k.overrides.keys()]).toEqual(['N']);
    expect(k.defaultWorkgroupSize).toEqual([64, 1, 1]);
  });

  it('rejects bindings of the wrong dtype, size, access, or name', () => {
    const g = gpu();
    const plan = createPlan(g, 'bad');
    const a = input(plan, 'a', [8]);
    const idxF = input(plan, 'idxf', [4]);
    const idx = input(plan, 'idx', [4], 'u32');
    const out = intermediate(plan, [4]);
    const w = constant(plan, uploadTensor(g, new Float32Array(4), [4], 'f32', 'weight'));
    const base = { kernel: k, workgroups: [1] as [number] };
    expect(() => dispatch(plan, { ...base, bindings: { a, idx: idxF, out } })).toThrow(/binding 'idx'.*expects u32 elements, got tensor 'idxf' \[4\] f32/);
    expect(() => dispatch(plan, { ...base, bindings: { a: input(plan, 'a3', [3]), idx, out } })).toThrow(/binding 'a'.*12 bytes, not a multiple of the 16-byte element/);
    expect(() => dispatch(plan, { ...base, bindings: { a, idx, out: w } })).toThrow(/binding 'out'.*written by the kernel.*'weight'.*read-only/);
    expect(() => dispatch(plan, { ...base, bindings: { a, out } as never })).toThrow(/binding 'idx' was given no tensor/);
    expect(() => dispatch(plan, { ...base, bindings: { a, idx, out, extra: out } })).toThrow(/no binding 'extra'/);
    expect(() => dispatch(plan, { ...base, bindings: { a, idx, out }, elements: { out: 5 } })).toThrow(/binding 'out'.*expects 5 elements.*with 4/);
    expect(() => dispatch(plan, { ...base, bindings: { a, idx, out }, workgroups: [70000] })).toThrow(/outside 1\.\.65535/);
  });

  it('16-bit tensors bind to u32 bindings as packed pairs, and nowhere else', () => {
    const plan = createPlan(gpu(), 'packed');
    const a = input(plan, 'a', [8]);
    const out = intermediate(plan, [4]);
    const base = { kernel: k, workgroups: [1] as [number] };
    // Odd count (7 halves = 3.5 words): accepted, the buffer is padded.
    expect(() => dispatch(plan, { ...base, bindings: { a, idx: input(plan, 'h', [7], 'bf16'), out }, elements: { idx: 7 } })).not.toThrow();
    expect(() => dispatch(plan, { ...base, bindings: { a, idx: input(plan, 'h2', [8], 'f16'), out } })).not.toThrow();
    expect(() => dispatch(plan, { ...base, bindings: { a: input(plan, 'ah', [16], 'bf16'), idx: input(plan, 'i', [4], 'u32'), out } }))
      .toThrow(/binding 'a'.*expects f32 elements, got tensor 'ah' \[16\] bf16 \(bf16 tensors bind to u32 bindings, as packed pairs\)/);
  });

  it('rejects unknown override constants and WGSL that does not compile, naming the kernel', async () => {
    const g = gpu();
    await expect(getPipeline(g, k, { M: 3 })).rejects.toThrow(/kernel 'gather4': no override constant 'M'/);
    const broken = defineKernel({ name: 'broken', source: SRC.replace('a[idx[g.x]].x', 'a[idx[g.x]].q') });
    await expect(getPipeline(g, broken, { N: 4 })).rejects.toThrow(/kernel 'broken'/);
    expect(() => defineKernel({ name: 'nothing', source: 'fn f() {}' })).toThrow(/kernel 'nothing': no @compute entry point/);
  });

  it('compiles and runs a plan with the user kernel', async () => {
    const g = gpu();
    const plan = createPlan(g, 'gather');
    const a = input(plan, 'a', [12]);
    const idx = input(plan, 'idx', [4], 'u32');
    const out = intermediate(plan, [4]);
    dispatch(plan, { kernel: k, bindings: { a, idx, out }, constants: { N: 4 }, workgroups: [1] });
    output(plan, 'out', out);
    const compiled = await compilePlan(plan);
    const { runPlan } = await import('../../src/internal.js');
    const r = await runPlan(compiled, {
      a: new Float32Array([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]),
      idx: new Uint32Array([2, 0, 1, 2]),
    });
    expect(Array.from(r.out as Float32Array)).toEqual([3, 1, 2, 3]);
  });
});
