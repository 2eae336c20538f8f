// precision 'f16' against the float64 PyTorch fixtures, all of them (InternViT and InternVL): every
// output, every token, cosine similarity ≥ 0.9995 and no non-finite value (parity-core.ts,
// checkFixtureCosine). The f32 path keeps its elementwise tolerance (parity.test.ts, internvl.test.ts).
// Also: 'f16' without shader-f16 is a clear error, 'auto' follows the device, f32 stays the default.
import { describe, expect, it } from 'vitest';
import { loadEncoder, disposeEncoder } from '../../src/model/internvit.js';
import { resolvePrecision } from '../../src/model/precision.js';
import type { Gpu } from '../../src/runtime/device.js';
import { useGpu } from '../node-gpu.js';
import { diskFixture, listFixtures } from './fixtures.js';
import { checkFixtureCosine, COSINE_MIN, formatCosineFixture, type FixtureKind } from './parity-core.js';

const fixtures: [FixtureKind, string][] = [
  ...listFixtures('model').map((n) => ['model', n] as [FixtureKind, string]),
  ...listFixtures('internvl').map((n) => ['internvl', n] as [FixtureKind, string]),
];
const NO_F16 = "the adapter has no 'shader-f16' (or the device was created without it): the f16 path cannot run here";

describe(`precision 'f16' vs PyTorch float64: per-token cosine ≥ ${COSINE_MIN}, all finite (Node)`, () => {
  const gpu = useGpu();

  it('has every fixture to check', () => expect(fixtures.length).toBeGreaterThanOrEqual(14));

  for (const [kind, name] of fixtures) {
    it(`${kind}/${name}`, async (ctx) => {
      if (!gpu().features.shaderF16) {
        console.log(`SKIP ${kind}/${name}: ${NO_F16}`);
        ctx.skip(NO_F16);
      }
      const r = await checkFixtureCosine(gpu(), diskFixture(kind, name), 'f16');
      console.log(formatCosineFixture(r));
      expect(r.problems).toEqual([]);
      expect(r.outputs.length).toBeGreaterThanOrEqual(1);
      for (const o of r.outputs) {
        expect(o.nonFinite, `${r.id} ${o.name}: non-finite values`).toBe(0);
        expect(o.min, `${r.id} ${o.name}: token ${o.worstRow}`).toBeGreaterThanOrEqual(COSINE_MIN);
      }
    });
  }
});

describe('precision option', () => {
  const gpu = useGpu();
  const withoutF16 = (): Gpu => ({ ...gpu(), features: { ...gpu().features, shaderF16: false } });

  it("'f16' on a device without shader-f16 is an error naming the feature, before any weight is read", async () => {
    expect(() => resolvePrecision(withoutF16(), 'f16')).toThrow(/precision 'f16' needs the WebGPU feature 'shader-f16'.*use precision 'auto'/);
    await expect(loadEncoder(withoutF16(), diskFixture('model', 'layernorm-f32').checkpoint, { precision: 'f16' }))
      .rejects.toThrow(/'shader-f16'/);
  });

  it("'auto' is f16 exactly where the device has shader-f16; the default is f32; typos are errors", () => {
    expect(resolvePrecision(withoutF16(), 'auto')).toBe('f32');
    expect(resolvePrecision(gpu(), 'auto')).toBe(gpu().features.shaderF16 ? 'f16' : 'f32');
    expect(resolvePrecision(gpu())).toBe('f32');
    expect(() => resolvePrecision(gpu(), 'fp16' as never)).toThrow(/precision must be one of f32, f16, auto; got 'fp16'/);
  });

  it("'f16' stores the linear weights f16 (weightStorage 'auto'); an explicit storage is kept", async (ctx) => {
    if (!gpu().features.shaderF16) ctx.skip(NO_F16);
    const src = diskFixture('model', 'sharded-bf16').checkpoint;
    const a = await loadEncoder(gpu(), src, { precision: 'f16' });
    const b = await loadEncoder(gpu(), src, { precision: 'f16', weightStorage: 'bf16' });
    try {
      expect(a.encoder.precision).toBe('f16');
      expect(a.encoder.weights.get('encoder.layers.0.mlp.fc1.weight')!.dtype).toBe('f16');
      expect(b.encoder.weights.get('encoder.layers.0.mlp.fc1.weight')!.dtype).toBe('bf16');
      expect(a.encoder.weights.get('encoder.layers.0.norm1.weight')!.dtype).toBe('f32');
    } finally {
      disposeEncoder(a.encoder);
      disposeEncoder(b.encoder);
    }
  });
});
