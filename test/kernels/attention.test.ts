import { describe, expect, it } from 'vitest';
import { attention, attentionTiling, FUSED_VARIANTS, type AttentionVersion, type FusedAttentionVersion } from '../../src/kernels/attention.js';
import { softmax } from '../../src/kernels/softmax.js';
import type { Gpu } from '../../src/runtime/device.js';
import { createPlan, input, type DispatchOp } from '../../src/runtime/plan.js';
import { workgroupUsage } from '../../src/runtime/workgroup.js';
import { checks } from '../../src/kernels/attention.check.js';
import { runChecks } from '../node-gpu.js';

describe('attention (every version of ATTENTION_VERSIONS) vs float64 reference', () => runChecks(checks));

// Bad inputs fail at record time with the problem named; no device needed to record.
describe('attention and softmax reject bad inputs', () => {
  const limits = {
    maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256, maxComputeWorkgroupStorageSize: 16384,
    maxStorageBufferBindingSize: 128 << 20, maxComputeWorkgroupsPerDimension: 65535,
  } as GPUSupportedLimits;
  const plan = () => createPlan({ limits } as Gpu, 'bad');

  it('names the qkv tensor and the shape it expected', () => {
    const p = plan();
    const qkv = input(p, 'qkv', [1, 5, 380]);
    expect(() => attention(p, qkv, { heads: 2, headDim: 64 })).toThrow(/qkv must be \[B, N, 3·2·64 = 384\] f32 or f16, got 'qkv' \[1, 5, 380\] f32/);
    expect(() => attention(p, input(p, 'flat', [384]), { heads: 2, headDim: 64 })).toThrow(/got 'flat' \[384\]/);
    expect(() => attention(p, qkv, { heads: 0, headDim: 64 })).toThrow(/heads must be a positive integer, got 0/);
  });

  it("f16 qkv: needs shader-f16 (named), and the f32-reference 'unfused' version refuses it", () => {
    const noF16 = createPlan({ limits, features: { shaderF16: false } } as unknown as Gpu, 'no-f16');
    expect(() => attention(noF16, input(noF16, 'qkv', [1, 5, 384], 'f16'), { heads: 2, headDim: 64 }))
      .toThrow(/qkv 'qkv' is f16, which needs the adapter feature 'shader-f16'/);
    const f16 = createPlan({ limits, features: { shaderF16: true } } as unknown as Gpu, 'f16');
    expect(() => attention(f16, input(f16, 'qkv', [1, 5, 384], 'f16'), { heads: 2, headDim: 64, version: 'unfused' }))
      .toThrow(/version 'unfused' cannot run here: the 'unfused' version is the f32 reference; f16 qkv needs a fused version/);
  });

  it('sends head sizes the fused kernel cannot take to the unfused version', () => {
    const p = plan();
    const qkv = input(p, 'qkv', [1, 5, 36]);
    expect(() => attention(p, qkv, { heads: 2, headDim: 6, version: 'fused' })).toThrow(/version 'fused' cannot run here: .*headDim must be a positive multiple of 4.*got 6; use version 'unfused'/);
    attention(p, qkv, { heads: 2, headDim: 6 });
    expect(p.versionLog!.at(-1)).toMatchObject({ kernel: 'attention', key: 'B1 N5 heads2 hd6 f32', version: 'unfused', source: 'heuristic' });
    expect(() => attention(p, qkv, { heads: 2, headDim: 6, version: 'flash' as AttentionVersion }))
      .toThrow(/unknown attention version 'flash' \(one of: fused, fused-q4, fused-subgroup, unfused\)/);
  });

  it("heuristic: 'fused-subgroup' with subgroups (hd 64, 128), else 'fused'; 'fused-subgroup' without the feature is an error", () => {
    const sub = createPlan({ limits, features: { subgroups: true, shaderF16: true } } as unknown as Gpu, 'sub');
    attention(sub, input(sub, 'a', [1, 5, 3 * 128]), { heads: 2, headDim: 64 });
    attention(sub, input(sub, 'b', [1, 5, 3 * 128], 'f16'), { heads: 1, headDim: 128 });
    expect(sub.versionLog!.map((c) => c.version)).toEqual(['fused-subgroup', 'fused-subgroup']);
    const p = plan();
    attention(p, input(p, 'a', [1, 5, 3 * 128]), { heads: 2, headDim: 64 });
    expect(p.versionLog!.map((c) => c.version)).toEqual(['fused']);
    expect(() => attention(p, input(p, 'b', [1, 5, 3 * 128]), { heads: 2, headDim: 64, version: 'fused-subgroup' }))
      .toThrow(/version 'fused-subgroup' cannot run here: needs the adapter feature 'subgroups'/);
    // hd 36 = 9 vec4 columns: no power-of-two split over ≤ 4 lanes, so the heuristic keeps 'fused'.
    attention(sub, input(sub, 'c', [1, 5, 3 * 36]), { heads: 1, headDim: 36 });
    expect(sub.versionLog!.at(-1)!.version).toBe('fused');
  });

  it("a plan's tuned choice wins over the heuristic", () => {
    const p = createPlan({ limits } as Gpu, 'tuned');
    p.tunedVersions = new Map([['attention B1 N5 heads2 hd64 f32', 'fused-q4']]);
    attention(p, input(p, 'a', [1, 5, 3 * 128]), { heads: 2, headDim: 64 });
    expect(p.versionLog!.at(-1)).toMatchObject({ version: 'fused-q4', source: 'tuned' });
  });

  it('refuses unfused scores larger than a storage binding', () => {
    const p = plan();
    const qkv = input(p, 'qkv', [13, 1025, 3 * 3200]);
    expect(() => attention(p, qkv, { heads: 25, headDim: 128, version: 'unfused' })).toThrow(/scores \[13, 25, 1025, 1025\] need .* bytes.*use version 'fused'/);
    expect(() => attention(p, qkv, { heads: 25, headDim: 128 })).not.toThrow();
  });

  it("key blocks are sized from the device's workgroup storage, and always fit it", () => {
    const tile = (hd: number, bytes: number, v: FusedAttentionVersion, eb: 2 | 4 = 4) =>
      attentionTiling(hd, { ...limits, maxComputeWorkgroupStorageSize: bytes }, eb, FUSED_VARIANTS[v]);
    // hd 64 f32 'fused': 4 keys cost 2 KiB of K/V tiles + 2 KiB of partials (128 threads).
    expect(tile(64, 16384, 'fused').blockK).toBe(16);
    expect(tile(64, 32768, 'fused').blockK).toBe(32); // lavapipe's and most GPUs' 32 KiB: twice the keys
    expect(tile(128, 16384, 'fused').blockK).toBe(8);
    expect(tile(128, 32768, 'fused').blockK).toBe(16);
    // No partials with subgroups: 28 keys in 16 KiB (the slot counter, 16 bytes with alignment, costs one 4-key step).
    expect(tile(64, 16384, 'fused-subgroup').blockK).toBe(28);
    expect(tile(128, 32768, 'fused-subgroup').blockK).toBe(28);
    // q4: 4 queries of 4 columns per thread, 64 threads; 4× the partials per thread.
    expect(tile(64, 16384, 'fused-q4')).toMatchObject({ queriesPerThread: 4, threadsPerQuery: 4, workgroupSize: 64, blockQ: 64, blockK: 8 });
    expect(tile(64, 65536, 'fused-q4').blockK).toBe(16); // its register arrays hold 16 keys
    for (const bytes of [16384, 32768, 49152]) {
      for (const v of Object.keys(FUSED_VARIANTS) as FusedAttentionVersion[]) {
        for (const [hd, eb] of [[64, 4], [128, 4], [64, 2], [128, 2], [96, 4], [20, 4]] as const) {
          const t = tile(hd, bytes, v, eb);
          expect(t.workgroupBytes).toBeLessThanOrEqual(bytes);
          expect(t.threadsPerQuery * t.vec4PerThread).toBe(hd / 4);
          if (v === 'fused-subgroup') expect(t.workgroupSize % 128).toBe(0);
        }
      }
    }
    // The shader's declared workgroup variables (reflected at the recorded constants) are what the tiling budgets.
    for (const v of Object.keys(FUSED_VARIANTS) as FusedAttentionVersion[]) {
      for (const [hd, dtype] of [[64, 'f32'], [128, 'f16']] as const) {
        const big = { ...limits, maxComputeWorkgroupStorageSize: 32768 } as GPUSupportedLimits;
        const p = createPlan({ limits: big, features: { subgroups: true, shaderF16: true } } as unknown as Gpu, 'usage');
        attention(p, input(p, 'qkv', [1, 40, 3 * hd], dtype), { heads: 1, headDim: hd, version: v });
        const op = p.ops.at(-1) as DispatchOp;
        expect(workgroupUsage(op.kernel.workgroup, op.constants)!.storageBytes, `${v} hd ${hd} ${dtype}`)
          .toBe(attentionTiling(hd, big, dtype === 'f16' ? 2 : 4, FUSED_VARIANTS[v]).workgroupBytes);
      }
    }
    expect(() => tile(128, 4096, 'fused')).toThrow(/headDim 128 does not fit 4096 bytes of workgroup memory with 4 keys per block; use version 'unfused'/);
  });

  it('softmax refuses non-f32 tensors', () => {
    const p = plan();
    expect(() => softmax(p, input(p, 'ids', [4, 4], 'u32'))).toThrow(/softmax: expects an f32 tensor, got 'ids' \[4, 4\] u32/);
  });
});
