// InternVL's pixel shuffle (ratio 0.5, ps_version v2 or v1) on the encoder output, CLS dropped.
import source from '../../shaders/pixel_shuffle.wgsl?raw';
import { defineKernel } from '../runtime/kernel.js';
import { dispatch, intermediate, type Plan, type TensorRef } from '../runtime/plan.js';
import { ceilDiv, grid1D } from './dispatch.js';

export const pixelShuffleKernel = defineKernel({ name: 'pixel_shuffle', source });

export type PsVersion = 'v1' | 'v2';

export interface PixelShuffleOptions {
  /** Patch grid of the encoder output (rows, cols); both must be even. */
  gridH: number;
  gridW: number;
  version?: PsVersion;
}

/** x [B, 1 + gh·gw, C] → [B, (gh/2)·(gw/2), 4C]. */
export function pixelShuffle(plan: Plan, x: TensorRef, opts: PixelShuffleOptions, label = 'pixel_shuffle'): TensorRef {
  const { gridH: gh, gridW: gw } = opts;
  const [batch, tokens, c] = x.shape as [number, number, number];
  if (x.shape.length !== 3 || tokens !== 1 + gh * gw) {
    throw new Error(`${label}: expects [B, 1 + ${gh}·${gw}, C] tokens, got [${x.shape.join(', ')}]`);
  }
  if (gh % 2 || gw % 2) throw new Error(`${label}: the patch grid ${gh}×${gw} must have even sides for a 0.5 shuffle`);
  const out = [batch, (gh / 2) * (gw / 2), 4 * c];
  const y = intermediate(plan, out, 'f32', label);
  const count = out[0]! * out[1]! * out[2]!;
  dispatch(plan, {
    kernel: pixelShuffleKernel, label,
    bindings: { x, y },
    elements: { x: batch * tokens * c, y: count },
    constants: { BATCH: batch, GH: gh, GW: gw, C: c, TRANSPOSED: opts.version === 'v1' ? 1 : 0 },
    workgroups: grid1D(ceilDiv(count, 256), plan.gpu.limits.maxComputeWorkgroupsPerDimension),
  });
  return y;
}

/** The same gather on the CPU, written from the PyTorch view/permute sequence InternVL uses. */
export function pixelShuffleReference(x: ArrayLike<number>, batch: number, gh: number, gw: number, c: number, version: PsVersion = 'v2'): Float64Array {
  // InternVL: X (n, gh, gw, c) → view (n, gh, gw/2, 2c) → permute → (n, gw/2, gh, 2c) → view (n, gw/2, gh/2, 4c)
  // → (v2 only) permute → (n, gh/2, gw/2, 4c). Index it step by step.
  const oh = gh / 2, ow = gw / 2;
  const y = new Float64Array(batch * oh * ow * 4 * c);
  for (let n = 0; n < batch; n++) {
    for (let bp = 0; bp < ow; bp++) {            // x3 dim 1
      for (let ap = 0; ap < oh; ap++) {          // x3 dim 2
        for (let r4 = 0; r4 < 4 * c; r4++) {     // x3 dim 3
          const m = Math.floor(r4 / (2 * c));    // x3[n, b', a', m·2c + r] = x2[n, b', 2a'+m, r]
          const r = r4 % (2 * c);
          const a = 2 * ap + m;                  // x2[n, b', a, r] = x1[n, a, b', r]
          const k = Math.floor(r / c);           // x1[n, a, b', k·c + cc] = X[n, a, 2b'+k, cc]
          const cc = r % c;
          const b = 2 * bp + k;
          const v = x[(n * (1 + gh * gw) + 1 + a * gw + b) * c + cc]!;
          const t = version === 'v2' ? ap * ow + bp : bp * oh + ap;
          y[(n * oh * ow + t) * 4 * c + r4] = v;
        }
      }
    }
  }
  return y;
}
