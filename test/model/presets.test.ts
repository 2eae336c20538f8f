// A checkpoint loaded under a published model's name must have that model's published shapes.
import { describe, expect, it } from 'vitest';
import { checkAgainstPreset, presetConfig } from '../../src/model/presets.js';

describe('published shapes check', () => {
  const v300m = presetConfig('InternViT-300M-448px-V2_5').vision;

  it('accepts the published shapes under the hub id, a folder named like it, or the preset name', () => {
    expect(() => checkAgainstPreset('OpenGVLab/InternViT-300M-448px-V2_5', v300m)).not.toThrow();
    expect(() => checkAgainstPreset('/models/InternViT-300M-448px-V2_5/', v300m)).not.toThrow();
    expect(() => checkAgainstPreset('InternViT-300M-448px', v300m)).not.toThrow();
  });

  it('ignores sources that are not published models', () => {
    expect(() => checkAgainstPreset('test/fixtures/model/layernorm-f32', { ...v300m, hiddenSize: 32 })).not.toThrow();
  });

  it('names every field that differs from the published config', () => {
    expect(() => checkAgainstPreset('OpenGVLab/InternViT-6B-448px-V2_5', v300m, 'hub/config.json')).toThrow(
      /hub\/config.json: OpenGVLab\/InternViT-6B-448px-V2_5 does not have the published InternViT-6B-448px-V2_5 shapes: hiddenSize 1024 \(published: 3200\), numHeads 16 \(published: 25\).*normType layer_norm \(published: rms_norm\)/,
    );
  });
});
