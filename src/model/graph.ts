// The InternViT encoder as a plan: embeddings, then L pre-norm layers with layer scale. Only kernel
// recording functions are called here; dispatch math lives in src/kernels/.
import { attention } from '../kernels/attention.js';
import { layernorm } from '../kernels/layernorm.js';
import { matmul, type ActDType, type MatmulQuant } from '../kernels/matmul.js';
import { patchEmbed } from '../kernels/patch-embed.js';
import { qkRmsNorm, rmsnorm } from '../kernels/rmsnorm.js';
import { constant, copy, intermediate, type Plan, type TensorRef } from '../runtime/plan.js';
import type { Tensor } from '../runtime/tensor.js';
import type { InternVitConfig } from './config.js';
import { quantOf, SCALE_SUFFIX } from './quantized.js';

/**
 * Looks up a weight (already in the plan as a constant) by its state-dict name without prefix;
 * `quant(name)` is how to read a linear weight stored int8 / int4 (undefined when it is float).
 */
export type WeightRefs = ((name: string) => TensorRef) & { quant(name: string): MatmulQuant | undefined };

/** Binds weights into a plan on first use, each once, so a plan holds only the weights it reads. */
export function weightRefs(plan: Plan, weights: ReadonlyMap<string, Tensor>): WeightRefs {
  const refs = new Map<string, TensorRef>();
  const ref = (name: string): TensorRef => {
    let r = refs.get(name);
    if (!r) {
      const t = weights.get(name);
      if (!t) throw new Error(`weight '${name}' is not loaded`);
      refs.set(name, (r = constant(plan, t)));
    }
    return r;
  };
  const quant = (name: string): MatmulQuant | undefined => {
    const l = quantOf(weights.get(name));
    return l && { scheme: l.scheme, groupSize: l.groupSize, scales: ref(name + SCALE_SUFFIX) };
  };
  return Object.assign(ref, { quant });
}

export interface EncoderOutputs {
  lastHiddenState: TensorRef;
  poolerOutput: TensorRef;
  /** hidden_states[i]: i = 0 the embeddings, i = l the output of layer l (only the requested ones). */
  hiddenStates: Map<number, TensorRef>;
}

export function tokenGrid(config: InternVitConfig, height: number, width: number): { hp: number; wp: number; tokens: number } {
  const p = config.patchSize;
  const hp = Math.floor(height / p);
  const wp = Math.floor(width / p);
  if (hp < 1 || wp < 1) throw new Error(`input ${height}×${width} is smaller than one ${p}×${p} patch`);
  return { hp, wp, tokens: hp * wp + 1 };
}

function norm(plan: Plan, config: InternVitConfig, x: TensorRef, w: WeightRefs, prefix: string, act: ActDType): TensorRef {
  return config.normType === 'layer_norm'
    ? layernorm(plan, x, w(`${prefix}.weight`), w(`${prefix}.bias`), config.layerNormEps, prefix, act)
    : rmsnorm(plan, x, w(`${prefix}.weight`), config.layerNormEps, prefix, act);
}

/**
 * One encoder layer: x + ls1 ⊙ Attn(norm1(x)), then + ls2 ⊙ MLP(norm2(x)). `act` is the type of the
 * activations between the norms and the residual adds (norm outputs, qkv, attention output, fc1
 * output): f16 with precision 'f16'. The residual stream x stays f32 in both precisions: the proj
 * and fc2 matmuls add into it in f32 (massive-activation channels; see ARCHITECTURE.md, f16 compute).
 */
function encoderLayer(plan: Plan, config: InternVitConfig, x: TensorRef, w: WeightRefs, i: number, act: ActDType): TensorRef {
  const p = `encoder.layers.${i}`;
  const h = norm(plan, config, x, w, `${p}.norm1`, act);
  // Ops are labelled with the checkpoint's module names, so limit and GPU errors name the layer.
  let qkv = matmul(plan, h, w(`${p}.attn.qkv.weight`), config.qkvBias ? w(`${p}.attn.qkv.bias`) : null, { out: act, quant: w.quant(`${p}.attn.qkv.weight`), label: `${p}.attn.qkv` });
  if (config.qkNormalization) {
    qkv = qkRmsNorm(plan, qkv, w(`${p}.attn.q_norm.weight`), w(`${p}.attn.k_norm.weight`), config.layerNormEps, `${p}.attn.qk_norm`);
  }
  const a = attention(plan, qkv, { heads: config.numHeads, headDim: config.headDim }, `${p}.attn`);
  const x1 = matmul(plan, a, w(`${p}.attn.proj.weight`), w(`${p}.attn.proj.bias`), { residual: { r: x, scale: w(`${p}.ls1`) }, quant: w.quant(`${p}.attn.proj.weight`), label: `${p}.attn.proj` });
  const h2 = norm(plan, config, x1, w, `${p}.norm2`, act);
  const f = matmul(plan, h2, w(`${p}.mlp.fc1.weight`), w(`${p}.mlp.fc1.bias`), { epilogue: 'gelu', out: act, quant: w.quant(`${p}.mlp.fc1.weight`), label: `${p}.mlp.fc1` });
  return matmul(plan, f, w(`${p}.mlp.fc2.weight`), w(`${p}.mlp.fc2.bias`), { residual: { r: x1, scale: w(`${p}.ls2`) }, quant: w.quant(`${p}.mlp.fc2.weight`), label: `${p}.mlp.fc2` });
}

/**
 * Records the encoder for pixel_values (B, 3, H, W). `keepHidden` lists the hidden_states indices
 * (0..L) the caller wants; those tensors are returned so the caller can mark them as outputs.
 * `act` 'f16' computes in f16 (see encoderLayer); every returned tensor is f32 either way.
 */
export function recordEncoder(
  plan: Plan, config: InternVitConfig, pixels: TensorRef, w: WeightRefs, keepHidden: ReadonlySet<number> = new Set(),
  layers = config.numLayers, act: ActDType = 'f32',
): EncoderOutputs {
  const [batch, channels, height, width] = pixels.shape as [number, number, number, number];
  if (pixels.shape.length !== 4 || channels !== 3) {
    throw new Error(`pixel_values must be (B, 3, H, W), got [${pixels.shape.join(', ')}]`);
  }
  const { tokens } = tokenGrid(config, height, width);
  const hiddenStates = new Map<number, TensorRef>();
  let x = patchEmbed(plan, pixels, {
    patchWeight: w('embeddings.patch_embedding.weight'),
    patchBias: w('embeddings.patch_embedding.bias'),
    classEmbedding: w('embeddings.class_embedding'),
    positionEmbedding: w('embeddings.position_embedding'),
  }, { patchSize: config.patchSize, imageSize: config.imageSize, hidden: config.hiddenSize });
  if (keepHidden.has(0)) hiddenStates.set(0, x);
  for (let i = 0; i < layers; i++) {
    x = encoderLayer(plan, config, x, w, i, act);
    if (keepHidden.has(i + 1)) hiddenStates.set(i + 1, x);
  }
  // pooler_output: the raw CLS row of each image.
  const d = config.hiddenSize;
  const pooler = intermediate(plan, [batch, d], 'f32', 'pooler_output');
  for (let b = 0; b < batch; b++) {
    copy(plan, x, pooler, { srcOffset: b * tokens * d * 4, dstOffset: b * d * 4, size: d * 4, label: `pooler[${b}]` });
  }
  return { lastHiddenState: x, poolerOutput: pooler, hiddenStates };
}
