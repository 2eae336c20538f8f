// InternVL's glue between the vision encoder and the language model, as plan ops:
// drop CLS → pixel shuffle (0.5) → mlp1 = LayerNorm(4D, eps 1e-5) → Linear → GELU → Linear.
import { layernorm } from '../kernels/layernorm.js';
import { matmul, type ActDType } from '../kernels/matmul.js';
import { pixelShuffle, type PsVersion } from '../kernels/pixel-shuffle.js';
import type { Plan, TensorRef } from '../runtime/plan.js';
import type { WeightRefs } from './graph.js';

/** mlp1's LayerNorm eps is PyTorch's default, not the encoder's 1e-6. */
export const MLP1_LAYERNORM_EPS = 1e-5;

export interface ProjectorShape {
  gridH: number;
  gridW: number;
  psVersion: PsVersion;
}

/**
 * tokens: encoder tokens [T, 1 + gh·gw, D] → image tokens [T, (gh/2)·(gw/2), llmHidden], f32.
 * `act` 'f16': the LayerNorm and fc1 outputs are f16 (statistics and sums f32), as in the encoder.
 */
export function recordProjector(plan: Plan, tokens: TensorRef, w: WeightRefs, shape: ProjectorShape, act: ActDType = 'f32'): TensorRef {
  const shuffled = pixelShuffle(plan, tokens, { gridH: shape.gridH, gridW: shape.gridW, version: shape.psVersion });
  const h = layernorm(plan, shuffled, w('mlp1.0.weight'), w('mlp1.0.bias'), MLP1_LAYERNORM_EPS, 'layernorm', act);
  const f = matmul(plan, h, w('mlp1.1.weight'), w('mlp1.1.bias'), { epilogue: 'gelu', out: act, quant: w.quant('mlp1.1.weight') });
  return matmul(plan, f, w('mlp1.3.weight'), w('mlp1.3.bias'), { quant: w.quant('mlp1.3.weight') });
}
