// The published InternViT checkpoints' shapes, and what they cost: parameters and matmul FLOPs.
import type { InternVitConfig, ModelConfig } from './config.js';

const INTERNVIT_300M: InternVitConfig = {
  hiddenSize: 1024, numHeads: 16, headDim: 64, intermediateSize: 4096, numLayers: 24,
  imageSize: 448, patchSize: 14, numChannels: 3,
  normType: 'layer_norm', qkNormalization: false, qkvBias: true, layerNormEps: 1e-6, hiddenAct: 'gelu',
};

const INTERNVIT_6B: InternVitConfig = {
  hiddenSize: 3200, numHeads: 25, headDim: 128, intermediateSize: 12800, numLayers: 45,
  imageSize: 448, patchSize: 14, numChannels: 3,
  normType: 'rms_norm', qkNormalization: true, qkvBias: false, layerNormEps: 1e-6, hiddenAct: 'gelu',
};

export const PRESETS = {
  'InternViT-300M-448px': { hubId: 'OpenGVLab/InternViT-300M-448px', config: INTERNVIT_300M },
  'InternViT-300M-448px-V2_5': { hubId: 'OpenGVLab/InternViT-300M-448px-V2_5', config: INTERNVIT_300M },
  'InternViT-6B-448px-V1-5': { hubId: 'OpenGVLab/InternViT-6B-448px-V1-5', config: INTERNVIT_6B },
  'InternViT-6B-448px-V2_5': { hubId: 'OpenGVLab/InternViT-6B-448px-V2_5', config: INTERNVIT_6B },
} as const satisfies Record<string, { hubId: string; config: InternVitConfig }>;

export type PresetName = keyof typeof PRESETS;

export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/** A preset as a standalone model config (a fresh copy). Accepts the name or the hub id. */
export function presetConfig(name: string): ModelConfig {
  const key = PRESET_NAMES.find((n) => n === name || PRESETS[n].hubId === name);
  if (!key) throw new Error(`unknown preset '${name}' (known: ${PRESET_NAMES.join(', ')})`);
  return { vision: { ...PRESETS[key].config }, chat: null, prefix: '' };
}

/** Parameters of the encoder (vision tensors only), as expectedTensors() lists them. */
export function paramCount(c: InternVitConfig): number {
  const D = c.hiddenSize;
  const I = c.intermediateSize;
  const p = c.patchSize;
  const grid = Math.floor(c.imageSize / p);
  const embeddings = D /* class */ + D * c.numChannels * p * p + D /* patch conv */ + (grid * grid + 1) * D;
  const norm = c.normType === 'layer_norm' ? 2 * D : D;
  const layer =
    2 * norm +
    3 * D * D + (c.qkvBias ? 3 * D : 0) +
    (c.qkNormalization ? 2 * D : 0) +
    D * D + D + // proj
    I * D + I + D * I + D + // fc1, fc2
    2 * D; // ls1, ls2
  return embeddings + c.numLayers * layer;
}

/**
 * GFLOP (1e9, multiply-add = 2) of one forward pass at H×W pixels: the matmuls (patch embedding,
 * qkv, q·kᵀ, p·v, proj, fc1, fc2). Norms, softmax, GELU and residuals (well under 1%) are left out.
 */
export function gflopsPerImage(c: InternVitConfig, height = c.imageSize, width = height): number {
  const D = c.hiddenSize;
  const patches = Math.floor(height / c.patchSize) * Math.floor(width / c.patchSize);
  const N = patches + 1;
  const patchEmbed = 2 * patches * c.numChannels * c.patchSize * c.patchSize * D;
  const layer =
    2 * N * D * 3 * D + // qkv
    2 * 2 * N * N * D + // scores and weighted values, all heads
    2 * N * D * D + // proj
    2 * 2 * N * D * c.intermediateSize; // fc1, fc2
  return (patchEmbed + c.numLayers * layer) / 1e9;
}

const SHAPE_FIELDS = [
  'hiddenSize', 'numHeads', 'intermediateSize', 'numLayers', 'imageSize', 'patchSize', 'normType',
  'qkNormalization', 'qkvBias',
] as const satisfies readonly (keyof InternVitConfig)[];

/**
 * When a checkpoint is loaded by the hub id (or a path ending in the name) of a published InternViT,
 * its config.json must have that model's published shapes: a mismatch means a wrong or edited file.
 */
export function checkAgainstPreset(source: string, vision: InternVitConfig, file = 'config.json'): void {
  const tail = source.replace(/\/+$/, '');
  const key = PRESET_NAMES.find((n) => tail === PRESETS[n].hubId || tail.endsWith(`/${n}`) || tail === n);
  if (!key) return;
  const want = PRESETS[key].config;
  const diffs = SHAPE_FIELDS.filter((f) => vision[f] !== want[f]).map((f) => `${f} ${String(vision[f])} (published: ${String(want[f])})`);
  if (diffs.length) throw new Error(`${file}: ${source} does not have the published ${key} shapes: ${diffs.join(', ')}`);
}
