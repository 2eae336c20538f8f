// The whole encoder against float64 PyTorch outputs (reference/make_fixtures.py), every fixture,
// every output: |got − want| ≤ 5e-4 + 5e-4·|want| elementwise.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../node-gpu.js';
import { compare, formatResult } from '../checks/harness.js';
import { readSafetensorsFloat32 } from '../../src/runtime/safetensors.js';
import { disposeEncoder, encode, loadEncoder } from '../../src/model/internvit.js';

const root = 'test/fixtures/model';
const fixtures = readdirSync(root).filter((d) => readdirSync(join(root, d)).includes('expected.safetensors')).sort();

describe('InternViT forward vs PyTorch float64 (Node)', () => {
  const gpu = useGpu();

  it('has fixtures to check', () => expect(fixtures.length).toBeGreaterThanOrEqual(8));

  for (const name of fixtures) {
    it(name, async () => {
      const dir = join(root, name);
      const pixels = readSafetensorsFloat32(readFileSync(join(dir, 'pixels.safetensors')), 'pixels.safetensors').get('pixel_values')!;
      const expected = readSafetensorsFloat32(readFileSync(join(dir, 'expected.safetensors')), 'expected.safetensors');
      const { encoder } = await loadEncoder(gpu(), dir);
      try {
        const out = await encode(encoder, pixels.data, pixels.shape, { hiddenStates: true });
        const got = new Map<string, { data: Float32Array; shape: number[] }>([
          ['last_hidden_state', out.lastHiddenState],
          ['pooler_output', out.poolerOutput],
          ...out.hiddenStates!.map((h, i) => [`hidden_states.${i}`, h] as const),
        ]);
        let worst = 0;
        for (const [key, want] of expected) {
          const g = got.get(key);
          expect(g, `output ${key}`).toBeDefined();
          expect(g!.shape).toEqual(want.shape);
          const r = compare(`${name} ${key}`, g!.data, want.data);
          worst = Math.max(worst, r.worstRatio);
          if (!r.ok || key === 'last_hidden_state') console.log(formatResult(r));
          expect(r.ok, formatResult(r)).toBe(true);
        }
        console.log(`${name}: worst error ${(100 * worst).toFixed(2)}% of tolerance over ${expected.size} outputs`);
      } finally {
        disposeEncoder(encoder);
      }
    });
  }
});
