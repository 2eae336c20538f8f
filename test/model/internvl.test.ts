// InternVL image tokens (encoder → pixel shuffle → mlp1) against float64 PyTorch, every fixture.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../node-gpu.js';
import { compare, formatResult } from '../checks/harness.js';
import { readSafetensorsFloat32 } from '../../src/runtime/safetensors.js';
import { disposeInternVlVision, imageTokens, loadInternVlVision, selectedLayer } from '../../src/model/internvl.js';
import { disposeEncoder, loadEncoder } from '../../src/model/internvit.js';

const root = 'test/fixtures/internvl';
const fixtures = readdirSync(root).sort();

describe('InternVL image tokens vs PyTorch float64 (Node)', () => {
  const gpu = useGpu();

  it('has fixtures covering v1, v2 and select_layer -2', () => expect(fixtures.length).toBeGreaterThanOrEqual(3));

  for (const name of fixtures) {
    it(name, async () => {
      const dir = join(root, name);
      const pixels = readSafetensorsFloat32(readFileSync(join(dir, 'pixels.safetensors'))).get('pixel_values')!;
      const want = readSafetensorsFloat32(readFileSync(join(dir, 'expected.safetensors'))).get('image_tokens')!;
      const { model, config } = await loadInternVlVision(gpu(), dir);
      try {
        const got = await imageTokens(model, pixels.data, pixels.shape);
        expect(got.shape).toEqual(want.shape);
        const r = compare(`${name} image_tokens (${config.chat!.psVersion}, select_layer ${config.chat!.selectLayer})`, got.data, want.data);
        console.log(formatResult(r));
        expect(r.ok, formatResult(r)).toBe(true);
      } finally {
        disposeInternVlVision(model);
      }
    });
  }

  it('maps select_layer to a hidden-state index and rejects out-of-range values', () => {
    expect(selectedLayer(24, -1)).toBe(24);
    expect(selectedLayer(24, -2)).toBe(23);
    expect(selectedLayer(24, 0)).toBe(0);
    expect(() => selectedLayer(24, -26)).toThrow(/select_layer -26 is outside/);
  });

  it('refuses image tokens for a standalone InternViT checkpoint', async () => {
    await expect(loadInternVlVision(gpu(), 'test/fixtures/model/layernorm-f32')).rejects.toThrow(/projector was requested but the config is not an InternVL chat config|need an InternVL chat checkpoint/);
  });

  it('loads only the vision tower from a chat checkpoint when the projector is not wanted', async () => {
    const { encoder, config } = await loadEncoder(gpu(), join(root, 'v2-bf16'));
    expect(config.prefix).toBe('vision_model.');
    expect([...encoder.weights.keys()].some((k) => k.startsWith('mlp1.') || k.startsWith('language_model.'))).toBe(false);
    disposeEncoder(encoder);
  });
});
