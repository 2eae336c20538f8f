// InternViT configuration from a Hugging Face config.json: a standalone InternViT config
// (model_type "intern_vit_6b") or an InternVL chat config (the vision config under `vision_config`,
// weights prefixed `vision_model.`, plus the pixel-shuffle + mlp1 projector settings).
// Shape-defining fields are required; the others default as InternVisionConfig does in PyTorch.

export type NormType = 'layer_norm' | 'rms_norm';

export interface InternVitConfig {
  hiddenSize: number;
  numHeads: number;
  headDim: number;
  intermediateSize: number;
  numLayers: number;
  /** Side of the square image the position embedding was trained at (448). */
  imageSize: number;
  patchSize: number;
  numChannels: number;
  normType: NormType;
  qkNormalization: boolean;
  qkvBias: boolean;
  layerNormEps: number;
  /** Always the exact erf GELU (HF "gelu"); other activations are rejected. */
  hiddenAct: 'gelu';
}

/** The InternVL glue around the encoder (chat checkpoints only). */
export interface InternVlChatConfig {
  /** Pixel-shuffle ratio (0.5: 2×2 tokens merge into one). */
  downsampleRatio: number;
  psVersion: 'v1' | 'v2';
  /** Which encoder layer's output feeds the projector (−1: the last). */
  selectLayer: number;
  /** Tile side the chat model feeds the encoder (force_image_size, else the vision image_size). */
  imageSize: number;
  /** Image tokens per tile: (imageSize/patch)² · ratio². */
  numImageTokens: number;
  /** Width of the projector input: hidden / ratio² (4·D at ratio 0.5). */
  projectorInputSize: number;
  /** LLM hidden size (llm_config.hidden_size): the projector's output width. */
  llmHiddenSize: number;
  /** LayerNorm eps of mlp1.0 (fixed at 1e-5 in InternVL, not the vision eps). */
  projectorLayerNormEps: number;
  /** The projector's tensors: LayerNorm(4D) → Linear(4D→Dl) → GELU → Linear(Dl→Dl). */
  projectorKeys: readonly string[];
}

export interface ModelConfig {
  vision: InternVitConfig;
  /** null for a standalone InternViT checkpoint. */
  chat: InternVlChatConfig | null;
  /** Prefix of the vision tensors in the checkpoint: '' or 'vision_model.'. */
  prefix: '' | 'vision_model.';
}

/**
 * Largest values config.json may give. Far above any InternViT / InternVL (6B: hidden 3200, MLP
 * 12800, 45 layers, 448 px tiles; the largest InternVL LLM is 8192 wide), and low enough that a
 * hostile config (1e12 layers, hidden_size 1e9) is refused here, before the tensor list it implies
 * is built or anything is allocated. Tensor sizes themselves are then checked against the file.
 */
export const CONFIG_LIMITS = {
  hidden_size: 65_536,
  num_attention_heads: 4096,
  intermediate_size: 262_144,
  num_hidden_layers: 1024,
  image_size: 8192,
  patch_size: 8192,
  force_image_size: 8192,
  llm_hidden_size: 65_536,
} as const;

export const VISION_PREFIX = 'vision_model.';
export const PROJECTOR_KEYS = [
  'mlp1.0.weight', 'mlp1.0.bias', 'mlp1.1.weight', 'mlp1.1.bias', 'mlp1.3.weight', 'mlp1.3.bias',
] as const;

/**
 * The config of an opened checkpoint (loader.ts Checkpoint: its parsed config.json and its path).
 * Without config.json, `fallback` (e.g. a preset) is used, else it is an error.
 */
export function checkpointConfig(ckpt: { config: unknown; configFile: string }, fallback?: ModelConfig): ModelConfig {
  if (ckpt.config === null || ckpt.config === undefined) {
    if (fallback) return fallback;
    throw new Error(`${ckpt.configFile}: missing (pass a preset to use weights without a config)`);
  }
  return parseConfig(ckpt.config, ckpt.configFile);
}

/** Parses config.json (already JSON-decoded). `file` names the file in every error. */
export function parseConfig(json: unknown, file = 'config.json'): ModelConfig {
  if (!isObject(json)) throw new Error(`${file}: not a JSON object`);
  if (json.model_type === 'internvl') {
    throw new Error(`${file}: model_type "internvl" is the transformers-native (-hf) layout, which this runtime does not read; use the original OpenGVLab checkpoint`);
  }
  if ('vision_config' in json) {
    if (!isObject(json.vision_config)) throw new Error(`${file}: vision_config is not an object`);
    const vision = parseVisionConfig(json.vision_config, `${file} (vision_config)`);
    return { vision, chat: parseChat(json, vision, file), prefix: VISION_PREFIX };
  }
  return { vision: parseVisionConfig(json, file), chat: null, prefix: '' };
}

/** The vision config alone (standalone config.json or a chat config's vision_config). */
export function parseVisionConfig(c: Record<string, unknown>, file = 'config.json'): InternVitConfig {
  const hiddenSize = positiveInt(c, 'hidden_size', file, CONFIG_LIMITS.hidden_size);
  const numHeads = positiveInt(c, 'num_attention_heads', file, CONFIG_LIMITS.num_attention_heads);
  if (hiddenSize % numHeads !== 0) {
    throw new Error(`${file}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  }
  const intermediateSize = positiveInt(c, 'intermediate_size', file, CONFIG_LIMITS.intermediate_size);
  const numLayers = positiveInt(c, 'num_hidden_layers', file, CONFIG_LIMITS.num_hidden_layers);
  const imageSize = positiveInt(c, 'image_size', file, CONFIG_LIMITS.image_size);
  const patchSize = positiveInt(c, 'patch_size', file, CONFIG_LIMITS.patch_size);
  if (patchSize > imageSize) throw new Error(`${file}: patch_size ${patchSize} is larger than image_size ${imageSize}`);
  const numChannels = c.num_channels === undefined ? 3 : positiveInt(c, 'num_channels', file);
  if (numChannels !== 3) throw new Error(`${file}: num_channels ${numChannels} is not supported (RGB only)`);

  const normType = c.norm_type ?? 'rms_norm';
  if (normType !== 'layer_norm' && normType !== 'rms_norm') {
    throw new Error(`${file}: norm_type ${JSON.stringify(normType)} is not supported (layer_norm or rms_norm)`);
  }
  const hiddenAct = c.hidden_act ?? 'gelu';
  if (hiddenAct !== 'gelu') {
    throw new Error(`${file}: hidden_act ${JSON.stringify(hiddenAct)} is not supported (only "gelu", the exact erf form)`);
  }
  const layerNormEps = c.layer_norm_eps ?? 1e-6;
  if (typeof layerNormEps !== 'number' || !(layerNormEps > 0) || !Number.isFinite(layerNormEps)) {
    throw new Error(`${file}: layer_norm_eps ${JSON.stringify(layerNormEps)} is not a positive number`);
  }
  return {
    hiddenSize,
    numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize,
    numLayers,
    imageSize,
    patchSize,
    numChannels,
    normType,
    qkNormalization: bool(c, 'qk_normalization', true, file),
    qkvBias: bool(c, 'qkv_bias', false, file),
    layerNormEps,
    hiddenAct,
  };
}

function parseChat(json: Record<string, unknown>, vision: InternVitConfig, file: string): InternVlChatConfig {
  const downsampleRatio = json.downsample_ratio ?? 0.5;
  if (typeof downsampleRatio !== 'number' || !(downsampleRatio > 0 && downsampleRatio <= 1)) {
    throw new Error(`${file}: downsample_ratio ${JSON.stringify(downsampleRatio)} is not in (0, 1]`);
  }
  const scale = 1 / downsampleRatio;
  if (Math.abs(scale - Math.round(scale)) > 1e-9) {
    throw new Error(`${file}: downsample_ratio ${downsampleRatio} is not 1/k for an integer k`);
  }
  const psVersion = json.ps_version ?? 'v1';
  if (psVersion !== 'v1' && psVersion !== 'v2') {
    throw new Error(`${file}: ps_version ${JSON.stringify(psVersion)} is not supported (v1 or v2)`);
  }
  const selectLayer = json.select_layer ?? -1;
  // It indexes hidden_states: L + 1 entries (the embeddings, then each layer).
  const states = vision.numLayers + 1;
  if (!Number.isInteger(selectLayer) || (selectLayer as number) >= states || (selectLayer as number) < -states) {
    throw new Error(`${file}: select_layer ${JSON.stringify(selectLayer)} does not index the ${states} hidden states of a ${vision.numLayers}-layer encoder`);
  }
  const imageSize = json.force_image_size == null ? vision.imageSize : positiveInt(json, 'force_image_size', file, CONFIG_LIMITS.force_image_size);
  const grid = Math.floor(imageSize / vision.patchSize);
  const k = Math.round(scale);
  if (grid % k !== 0) {
    throw new Error(`${file}: the ${grid}×${grid} patch grid of a ${imageSize} px tile does not divide by the pixel-shuffle factor ${k}`);
  }
  const llm = json.llm_config;
  if (!isObject(llm)) throw new Error(`${file}: llm_config is missing (needed for the projector's output width)`);
  const llmHiddenSize = positiveInt(llm, 'hidden_size', `${file} (llm_config)`, CONFIG_LIMITS.llm_hidden_size);
  return {
    downsampleRatio,
    psVersion,
    selectLayer: selectLayer as number,
    imageSize,
    numImageTokens: (grid / k) ** 2,
    projectorInputSize: vision.hiddenSize * k * k,
    llmHiddenSize,
    projectorLayerNormEps: 1e-5,
    projectorKeys: PROJECTOR_KEYS,
  };
}

function positiveInt(c: Record<string, unknown>, key: string, file: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = c[key];
  if (v === undefined) throw new Error(`${file}: "${key}" is missing`);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new Error(`${file}: "${key}" is ${JSON.stringify(v)}, expected a positive integer`);
  }
  if (v > max) throw new Error(`${file}: "${key}" is ${v}, more than the ${max} this runtime accepts (corrupt or not an InternViT config)`);
  return v;
}

function bool(c: Record<string, unknown>, key: string, fallback: boolean, file: string): boolean {
  const v = c[key] ?? fallback;
  if (typeof v !== 'boolean') throw new Error(`${file}: "${key}" is ${JSON.stringify(v)}, expected true or false`);
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Number of position-embedding rows: (image/patch)² + 1 (row 0 is CLS). */
export function numPositions(c: InternVitConfig): number {
  return Math.floor(c.imageSize / c.patchSize) ** 2 + 1;
}

/** Tokens for an H×W input: ⌊H/p⌋·⌊W/p⌋ patches + CLS. */
export function numTokens(c: InternVitConfig, height: number, width: number): number {
  return Math.floor(height / c.patchSize) * Math.floor(width / c.patchSize) + 1;
}
