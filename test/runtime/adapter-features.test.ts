// The optional features the f16 and subgroup kernels rely on, through the same path every kernel
// takes (defineKernel's wgsl_reflect reflection → plan → one submit): `enable f16;` arithmetic and
// f16 values, and subgroup reductions and shuffles, correct for whatever subgroup size the adapter
// runs (lavapipe 8, SwiftShader 4, GPUs 32/64). A feature the adapter lacks is a skip that says so;
// CI requires both (INTERNVIT_REQUIRE_FEATURES, test/runtime/device.test.ts).
import { describe, expect, it } from 'vitest';
import { ceilDiv, defineKernel, dispatch, intermediate } from '../../src/internal.js';
import { runOnce } from '../../src/runtime/run-once.js';
import { skipTest, useGpu } from '../node-gpu.js';

const F16 = defineKernel({
  name: 'test.f16_arith',
  source: `enable f16;
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
override N: u32;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x >= N) { return; }
  let h = f16(x[g.x]);
  let p: vec2<f16> = vec2h(h, h * h + h);
  y[g.x] = f32(p.y) + f32(p.x) * 0.0;
}`,
});

// Per invocation: subgroupAdd, subgroupMax, the value at lane ^ 1, the lane, the subgroup size, and
// the global index of the subgroup's first active invocation (which identifies the subgroup: WGSL
// does not say which invocations share one).
const OUT = 6;
const SUBGROUPS = defineKernel({
  name: 'test.subgroups',
  source: `enable subgroups;
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) size: u32) {
  let v = x[g.x];
  let o = ${OUT}u * g.x;
  y[o] = subgroupAdd(v);
  y[o + 1u] = subgroupMax(v);
  y[o + 2u] = subgroupShuffleXor(v, 1u);
  y[o + 3u] = f32(lane);
  y[o + 4u] = f32(size);
  y[o + 5u] = f32(subgroupBroadcastFirst(g.x));
}`,
});

describe('adapter features used by the f16 and subgroup kernels', () => {
  const gpu = useGpu();

  it('shader-f16: f16 values and arithmetic (exact for these inputs)', async (ctx) => {
    if (!gpu().features.shaderF16) skipTest(ctx, 'the adapter has no shader-f16 (SwiftShader; lavapipe from Mesa ≥ 25.0 has it)');
    const n = 65 * 3;   // not a multiple of the workgroup
    // k/8 for |k| ≤ 32: h, h² + h and their sum are exact in f16 (integers ≤ 2048 over 64).
    const x = Float32Array.from({ length: n }, (_, i) => ((i % 65) - 32) / 8);
    const out = await runOnce(gpu(), { x: { data: x, shape: [n] } }, (plan, { x: xin }) => {
      const y = intermediate(plan, [n], 'f32', 'y');
      dispatch(plan, { kernel: F16, bindings: { x: xin!, y }, constants: { N: n }, workgroups: [ceilDiv(n, 64)], elements: { x: n, y: n } });
      return { y };
    });
    const want = Array.from(x, (h) => h * h + h);
    expect(Array.from(out.y as Float32Array)).toEqual(want);
  });

  it('subgroups: add, max, shuffle-xor and broadcast agree with a CPU reference for the size the adapter runs', async (ctx) => {
    const g = gpu();
    if (!g.features.subgroups) skipTest(ctx, 'the adapter has no subgroups');
    const n = 64 * 3;
    // Small integers: any summation order gives the exact sum.
    const x = Float32Array.from({ length: n }, (_, i) => ((i * 37) % 23) - 11);
    const out = await runOnce(g, { x: { data: x, shape: [n] } }, (plan, { x: xin }) => {
      const y = intermediate(plan, [n * OUT], 'f32', 'y');
      dispatch(plan, { kernel: SUBGROUPS, bindings: { x: xin!, y }, workgroups: [n / 64], elements: { x: n, y: n * OUT } });
      return { y };
    });
    const y = out.y as Float32Array;
    const at = (i: number, k: number) => y[OUT * i + k]!;
    const groups = new Map<number, number[]>();
    for (let i = 0; i < n; i++) groups.set(at(i, 5), [...(groups.get(at(i, 5)) ?? []), i]);
    const sizes = new Set(Array.from({ length: n }, (_, i) => at(i, 4)));
    console.log(`subgroup size ${[...sizes].join(', ')}; ${groups.size} subgroups of ${[...new Set([...groups.values()].map((m) => m.length))].join('/')} invocations`);
    expect(sizes.size).toBe(1);
    const size = [...sizes][0]!;
    expect([4, 8, 16, 32, 64, 128]).toContain(size);
    for (const members of groups.values()) {
      expect(members.length).toBe(size);   // every invocation is active: full subgroups
      const byLane = new Map(members.map((i) => [at(i, 3), i]));
      expect([...byLane.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: size }, (_, l) => l));
      const sum = members.reduce((a, i) => a + x[i]!, 0);
      const max = Math.max(...members.map((i) => x[i]!));
      for (const i of members) {
        expect(at(i, 0)).toBe(sum);
        expect(at(i, 1)).toBe(max);
        expect(at(i, 2)).toBe(x[byLane.get(at(i, 3) ^ 1)!]!);
      }
    }
  });
});
