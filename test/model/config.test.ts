// config.json parsing (standalone InternViT and InternVL chat), its errors, the presets, and the cost
// helpers against the numbers in the architecture facts (304.0 M / 723.6 GFLOP; 5536.5 M / 11944.7).
import { describe, expect, it } from 'vitest';
import { checkpointConfig, parseConfig } from '../../src/model/config.js';
import { gflopsPerImage, paramCount, PRESET_NAMES, PRESETS, presetConfig } from '../../src/model/presets.js';
import { expectedTensors } from '../../src/model/weights.js';
import { tinyChatConfigJson, tinyConfigJson } from '../runtime/checkpoint-helpers.js';

// As published on the hub (fields that do not matter for inference included, as they appear there).
const INTERNVIT_300M_JSON = {
  architectures: ['InternVisionModel'],
  attention_dropout: 0.0,
  drop_path_rate: 0.1,
  dropout: 0.0,
  hidden_act: 'gelu',
  hidden_size: 1024,
  image_size: 448,
  initializer_factor: 1.0,
  initializer_range: 0.02,
  intermediate_size: 4096,
  layer_norm_eps: 1e-6,
  model_type: 'intern_vit_6b',
  norm_type: 'layer_norm',
  num_attention_heads: 16,
  num_channels: 3,
  num_hidden_layers: 24,
  patch_size: 14,
  qk_normalization: false,
  qkv_bias: true,
  torch_dtype: 'bfloat16',
  use_flash_attn: true,
};

const INTERNVIT_6B_JSON = {
  ...INTERNVIT_300M_JSON,
  hidden_size: 3200,
  intermediate_size: 12800,
  norm_type: 'rms_norm',
  num_attention_heads: 25,
  num_hidden_layers: 45,
  qk_normalization: true,
  qkv_bias: false,
};

describe('parseConfig', () => {
  it('standalone InternViT-300M config.json', () => {
    const c = parseConfig(INTERNVIT_300M_JSON);
    expect(c.prefix).toBe('');
    expect(c.chat).toBeNull();
    expect(c.vision).toEqual({
      hiddenSize: 1024, numHeads: 16, headDim: 64, intermediateSize: 4096, numLayers: 24,
      imageSize: 448, patchSize: 14, numChannels: 3, normType: 'layer_norm', qkNormalization: false,
      qkvBias: true, layerNormEps: 1e-6, hiddenAct: 'gelu',
    });
    expect(c.vision).toEqual(PRESETS['InternViT-300M-448px'].config);
  });

  it('standalone InternViT-6B config.json', () => {
    const c = parseConfig(INTERNVIT_6B_JSON);
    expect(c.vision).toMatchObject({ hiddenSize: 3200, numHeads: 25, headDim: 128, normType: 'rms_norm', qkNormalization: true, qkvBias: false });
    expect(c.vision).toEqual(PRESETS['InternViT-6B-448px-V2_5'].config);
  });

  it('InternVL chat config: vision_config, prefix, pixel shuffle and projector settings', () => {
    const json = {
      architectures: ['InternVLChatModel'],
      model_type: 'internvl_chat',
      downsample_ratio: 0.5,
      ps_version: 'v2',
      select_layer: -1,
      force_image_size: 448,
      template: 'internvl2_5',
      vision_config: INTERNVIT_300M_JSON,
      llm_config: { architectures: ['Qwen2ForCausalLM'], hidden_size: 896, model_type: 'qwen2' },
    };
    const c = parseConfig(json);
    expect(c.prefix).toBe('vision_model.');
    expect(c.vision).toEqual(PRESETS['InternViT-300M-448px'].config);
    expect(c.chat).toEqual({
      downsampleRatio: 0.5,
      psVersion: 'v2',
      selectLayer: -1,
      imageSize: 448,
      numImageTokens: 256,
      projectorInputSize: 4096,
      llmHiddenSize: 896,
      projectorLayerNormEps: 1e-5,
      projectorKeys: ['mlp1.0.weight', 'mlp1.0.bias', 'mlp1.1.weight', 'mlp1.1.bias', 'mlp1.3.weight', 'mlp1.3.bias'],
    });
  });

  it('defaults missing optional fields as InternVisionConfig does', () => {
    const { norm_type: _n, qk_normalization: _q, qkv_bias: _b, layer_norm_eps: _e, hidden_act: _h, num_channels: _c, ...bare } = INTERNVIT_300M_JSON;
    expect(parseConfig(bare).vision).toMatchObject({ normType: 'rms_norm', qkNormalization: true, qkvBias: false, layerNormEps: 1e-6, hiddenAct: 'gelu', numChannels: 3 });
    const chat = tinyChatConfigJson();
    delete chat.ps_version;
    delete chat.select_layer;
    delete chat.downsample_ratio;
    delete chat.force_image_size;
    expect(parseConfig(chat).chat).toMatchObject({ psVersion: 'v1', selectLayer: -1, downsampleRatio: 0.5, imageSize: 28, numImageTokens: 1 });
  });

  const errors: [string, unknown, RegExp][] = [
    ['not an object', [1], /^config\.json: not a JSON object/],
    ['tanh GELU', tinyConfigJson({ hidden_act: 'gelu_pytorch_tanh' }), /^config\.json: hidden_act "gelu_pytorch_tanh" is not supported/],
    ['hidden not divisible by heads', tinyConfigJson({ hidden_size: 10, num_attention_heads: 3 }), /^config\.json: hidden_size 10 is not divisible by num_attention_heads 3/],
    ['missing hidden_size', tinyConfigJson({ hidden_size: undefined }), /^config\.json: "hidden_size" is missing/],
    ['fractional layer count', tinyConfigJson({ num_hidden_layers: 2.5 }), /^config\.json: "num_hidden_layers" is 2\.5, expected a positive integer/],
    ['unknown norm', tinyConfigJson({ norm_type: 'batch_norm' }), /^config\.json: norm_type "batch_norm" is not supported/],
    ['bad eps', tinyConfigJson({ layer_norm_eps: -1 }), /^config\.json: layer_norm_eps -1 is not a positive number/],
    ['bool as string', tinyConfigJson({ qkv_bias: 'true' }), /^config\.json: "qkv_bias" is "true", expected true or false/],
    ['patch larger than image', tinyConfigJson({ patch_size: 32 }), /^config\.json: patch_size 32 is larger than image_size 28/],
    ['grayscale', tinyConfigJson({ num_channels: 1 }), /^config\.json: num_channels 1 is not supported/],
    ['transformers-native InternVL', { model_type: 'internvl', vision_config: {} }, /^config\.json: model_type "internvl" is the transformers-native/],
    ['chat: bad vision config', tinyChatConfigJson({ hidden_act: 'quick_gelu' }), /^config\.json \(vision_config\): hidden_act "quick_gelu"/],
    ['chat: no llm_config', { ...tinyChatConfigJson(), llm_config: undefined }, /^config\.json: llm_config is missing/],
    ['chat: bad ps_version', { ...tinyChatConfigJson(), ps_version: 'v3' }, /^config\.json: ps_version "v3" is not supported/],
    ['chat: bad downsample_ratio', { ...tinyChatConfigJson(), downsample_ratio: 0.3 }, /^config\.json: downsample_ratio 0\.3 is not 1\/k/],
    ['chat: select_layer out of range', { ...tinyChatConfigJson(), select_layer: -4 }, /^config\.json: select_layer -4 does not index the 3 hidden states/],
  ];
  for (const [what, json, message] of errors) {
    it(`error: ${what}`, () => expect(() => parseConfig(json)).toThrow(message));
  }

  it('errors name the file it came from; a missing config needs a fallback', () => {
    expect(() => parseConfig(tinyConfigJson({ num_attention_heads: 3 }), '/models/x/config.json')).toThrow(/^\/models\/x\/config\.json: hidden_size 8/);
    expect(() => checkpointConfig({ config: null, configFile: '/models/x/config.json' })).toThrow('/models/x/config.json: missing');
    expect(checkpointConfig({ config: null, configFile: 'c' }, presetConfig('InternViT-300M-448px')).vision.hiddenSize).toBe(1024);
  });
});

describe('presets', () => {
  it('lists the four published checkpoints, found by name or hub id', () => {
    expect(PRESET_NAMES).toEqual(['InternViT-300M-448px', 'InternViT-300M-448px-V2_5', 'InternViT-6B-448px-V1-5', 'InternViT-6B-448px-V2_5']);
    expect(presetConfig('OpenGVLab/InternViT-6B-448px-V1-5').vision.numLayers).toBe(45);
    expect(() => presetConfig('InternViT-1B')).toThrow(/unknown preset 'InternViT-1B' \(known: InternViT-300M-448px, /);
  });

  it('parameter counts reproduce the facts (304.0 M, 5536.5 M) and equal the sum over expectedTensors', () => {
    const m300 = PRESETS['InternViT-300M-448px'].config;
    const b6 = PRESETS['InternViT-6B-448px-V1-5'].config;
    expect((paramCount(m300) / 1e6).toFixed(1)).toBe('304.0');
    expect((paramCount(b6) / 1e6).toFixed(1)).toBe('5536.5');
    for (const name of PRESET_NAMES) {
      const c = PRESETS[name].config;
      const summed = expectedTensors(c).reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
      expect(paramCount(c), name).toBe(summed);
    }
  });

  it('GFLOP per 448 px image reproduce the facts (723.6, 11944.7)', () => {
    expect(gflopsPerImage(PRESETS['InternViT-300M-448px-V2_5'].config, 448, 448).toFixed(1)).toBe('723.6');
    expect(gflopsPerImage(PRESETS['InternViT-6B-448px-V2_5'].config, 448, 448).toFixed(1)).toBe('11944.7');
  });

  it('GFLOP at other sizes follow the token count (448×224: 512 patches, 513 tokens)', () => {
    const c = PRESETS['InternViT-300M-448px'].config;
    const D = 1024;
    const I = 4096;
    const N = 513;
    const byHand = 2 * 512 * 588 * D + 24 * (2 * N * D * (3 * D + D + 2 * I) + 4 * N * N * D);
    expect(gflopsPerImage(c, 448, 224)).toBeCloseTo(byHand / 1e9, 9);
    expect(gflopsPerImage(c, 454, 230)).toBe(gflopsPerImage(c, 448, 224)); // pixels past the last patch are ignored
  });
});
