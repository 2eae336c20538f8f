import { describe, expect, it } from 'vitest';
import { patchEmbed } from '../../src/kernels/patch-embed.js';
import type { Gpu } from '../../src/runtime/device.js';
import { createPlan, input } from '../../src/runtime/plan.js';
import { checks } from '../../src/kernels/patch-embed.check.js';
import { runChecks } from '../node-gpu.js';

describe('patchEmbed (conv GEMM + bias + CLS + position) vs float64 reference', () => runChecks(checks));

describe('patchEmbed input errors (recorded on a plan, no GPU needed)', () => {
  const cfg = { patchSize: 14, imageSize: 56, hidden: 8 };
  const setup = (pixels: number[], weightShape = [8, 3, 14, 14], posRows = 17) => {
    const p = createPlan({} as Gpu, 'errors');
    return () => patchEmbed(p, input(p, 'pixels', pixels), {
      patchWeight: input(p, 'w', weightShape), patchBias: input(p, 'b', [8]),
      classEmbedding: input(p, 'cls', [1, 1, 8]), positionEmbedding: input(p, 'pos', [1, posRows, 8]),
    }, cfg);
  };
  it('names pixels that are not [B, 3, H, W]', () => expect(setup([1, 4, 28, 28])).toThrow(/pixels 'pixels' must be \[B, 3, H, W\], got \[1, 4, 28, 28\]/));
  it('names an image smaller than one patch', () => expect(setup([1, 3, 13, 28])).toThrow(/smaller than one 14×14 patch/));
  it('names a patch weight of the wrong shape', () => expect(setup([1, 3, 28, 28], [8, 3, 16, 16])).toThrow(/patchWeight 'w' must be f32 \(8, 3, 14, 14\)/));
  it('names a position table that does not match imageSize', () => expect(setup([1, 3, 28, 28], [8, 3, 14, 14], 1025)).toThrow(/positionEmbedding 'pos' must be f32 \(1, 17, 8\)/));
});
