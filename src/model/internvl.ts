// InternVL image tokens: encoder (up to the selected layer) → pixel shuffle → mlp1, as one plan per
// tile count. The encoder runs only the layers select_layer needs (−2 skips the last layer).
import type { Gpu } from '../runtime/device.js';
import { runPlans, type HostArray, type Stage } from '../runtime/executor.js';
import { compilePlan, createPlan, disposePlan, input, output, outputTensor, type CompiledPlan } from '../runtime/plan.js';
import type { Tensor } from '../runtime/tensor.js';
import type { InternVlChatConfig, ModelConfig } from './config.js';
import { recordEncoder, tokenGrid, weightRefs } from './graph.js';
import { disposeEncoder, loadEncoder, type HostOutput, type InternVitEncoder, type LoadEncoderOptions } from './internvit.js';
import { recordProjector } from './internvl-graph.js';

export interface InternVlVision {
  encoder: InternVitEncoder;
  chat: InternVlChatConfig;
  plans: Map<string, CompiledPlan>;
}

/** Loads the vision encoder and mlp1 of an InternVL chat checkpoint; language-model tensors are never read. */
export async function loadInternVlVision(gpu: Gpu, source: Parameters<typeof loadEncoder>[1], opts: Omit<LoadEncoderOptions, 'projector'> = {}): Promise<{ model: InternVlVision; config: ModelConfig }> {
  const { encoder, config } = await loadEncoder(gpu, source, { ...opts, projector: true });
  if (!config.chat) {
    disposeEncoder(encoder);
    throw new Error('image tokens need an InternVL chat checkpoint (config.json with vision_config, llm_config, downsample_ratio)');
  }
  return { model: { encoder, chat: config.chat, plans: new Map() }, config };
}

/** hidden_states index InternVL feeds the projector: −1 → the last layer, −k → L+1−k, k ≥ 0 → k. */
export function selectedLayer(numLayers: number, selectLayer: number): number {
  const i = selectLayer < 0 ? numLayers + 1 + selectLayer : selectLayer;
  if (!Number.isInteger(i) || i < 0 || i > numLayers) {
    throw new Error(`select_layer ${selectLayer} is outside the encoder's ${numLayers + 1} hidden states`);
  }
  return i;
}

async function tokensPlan(model: InternVlVision, shape: readonly number[]): Promise<CompiledPlan> {
  const { encoder, chat } = model;
  const [tiles, channels, height, width] = shape as [number, number, number, number];
  if (shape.length !== 4 || channels !== 3) throw new Error(`pixel_values must have shape (T, 3, S, S); got [${shape.join(', ')}]`);
  if (chat.downsampleRatio !== 0.5) throw new Error(`downsample_ratio ${chat.downsampleRatio} is not supported (InternVL uses 0.5)`);
  const key = `${tiles}x${height}x${width}`;
  let compiled = model.plans.get(key);
  if (compiled) return compiled;
  const { hp, wp } = tokenGrid(encoder.config, height, width);
  const plan = createPlan(encoder.gpu, `internvl tokens ${tiles}×3×${height}×${width}`);
  const pixels = input(plan, 'pixel_values', [tiles, 3, height, width]);
  const w = weightRefs(plan, encoder.weights);
  const layers = selectedLayer(encoder.config.numLayers, chat.selectLayer);
  const enc = recordEncoder(plan, encoder.config, pixels, w, new Set(), layers);
  output(plan, 'image_tokens', recordProjector(plan, enc.lastHiddenState, w, { gridH: hp, gridW: wp, psVersion: chat.psVersion }));
  compiled = await compilePlan(plan);
  model.plans.set(key, compiled);
  return compiled;
}

/** pixel_values (T, 3, S, S) → image tokens (T, tokens per tile, LLM hidden), one submit. */
export async function imageTokens(
  model: InternVlVision, pixels: HostArray | Tensor, shape: readonly number[], opts: { keepOnGpu?: boolean; before?: Stage[] } = {},
): Promise<HostOutput & { gpu?: Tensor }> {
  const compiled = await tokensPlan(model, shape);
  const stages = [...(opts.before ?? []), { compiled, inputs: { pixel_values: pixels }, read: opts.keepOnGpu ? [] : ['image_tokens'] }];
  const out = (await runPlans(stages)).at(-1)!;
  const ref = compiled.plan.outputs.get('image_tokens')!;
  return {
    data: (out.image_tokens as Float32Array | undefined) ?? new Float32Array(0),
    shape: [...ref.shape],
    gpu: opts.keepOnGpu ? outputTensor(compiled, 'image_tokens') : undefined,
  };
}

export function disposeInternVlVision(model: InternVlVision): void {
  for (const p of model.plans.values()) disposePlan(p);
  model.plans.clear();
  disposeEncoder(model.encoder);
}
