import { describe, expect, it } from 'vitest';
import { attention, type AttentionVersion } from '../../src/kernels/attention.js';
import { softmax } from '../../src/kernels/softmax.js';
import type { Gpu } from '../../src/runtime/device.js';
import { createPlan, input } from '../../src/runtime/plan.js';
import { checks } from '../checks/attention.js';
import { runChecks } from '../node-gpu.js';

describe('attention (fused and unfused) vs float64 reference', () => runChecks(checks));

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
      .toThrow(/'unfused' version is the f32 reference; f16 qkv needs 'fused'/);
  });

  it('sends head sizes the fused kernel cannot take to the unfused version', () => {
    const p = plan();
    const qkv = input(p, 'qkv', [1, 5, 36]);
    expect(() => attention(p, qkv, { heads: 2, headDim: 6 })).toThrow(/headDim must be a positive multiple of 4.*got 6; use version 'unfused'/);
    expect(() => attention(p, qkv, { heads: 2, headDim: 6, version: 'unfused' })).not.toThrow();
    expect(() => attention(p, qkv, { heads: 2, headDim: 6, version: 'flash' as AttentionVersion })).toThrow(/unknown version 'flash'/);
  });

  it('refuses unfused scores larger than a storage binding', () => {
    const p = plan();
    const qkv = input(p, 'qkv', [13, 1025, 3 * 3200]);
    expect(() => attention(p, qkv, { heads: 25, headDim: 128, version: 'unfused' })).toThrow(/scores \[13, 25, 1025, 1025\] need .* bytes.*use version 'fused'/);
    expect(() => attention(p, qkv, { heads: 25, headDim: 128 })).not.toThrow();
  });

  it('softmax refuses non-f32 tensors', () => {
    const p = plan();
    expect(() => softmax(p, input(p, 'ids', [4, 4], 'u32'))).toThrow(/softmax: expects an f32 tensor, got 'ids' \[4, 4\] u32/);
  });
});
