// InternVL image tokens (encoder → pixel shuffle → mlp1) against float64 PyTorch, every fixture.
// The comparison lives in parity-core.ts, shared with the browser run (test/browser/model-parity.browser.test.ts).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../node-gpu.js';
import { formatResult } from '../../src/kernels/check-harness.js';
import { loadInternVlVision, selectedLayer } from '../../src/model/internvl.js';
import { disposeEncoder, loadEncoder } from '../../src/model/internvit.js';
import { diskFixture, listFixtures } from './fixtures.js';
import { checkFixture, FIXTURE_ROOTS } from './parity-core.js';

const root = FIXTURE_ROOTS.internvl;
const fixtures = listFixtures('internvl');

describe('InternVL image tokens vs PyTorch float64 (Node)', () => {
  const gpu = useGpu();

  it('has fixtures covering v1, v2 and select_layer -2', () => expect(fixtures.length).toBeGreaterThanOrEqual(3));

  for (const name of fixtures) {
    it(name, async () => {
      const r = await checkFixture(gpu(), diskFixture('internvl', name));
      for (const o of r.outputs) console.log(formatResult(o));
      // image_tokens produced with the expected shape, and within tolerance.
      expect(r.problems).toEqual([]);
      expect(r.outputs.length).toBe(1);
      expect(r.outputs[0]!.ok, formatResult(r.outputs[0]!)).toBe(true);
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
