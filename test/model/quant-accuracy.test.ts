// weightStorage 'int8' / 'int4' against the float64 PyTorch fixtures, all of them (InternViT and
// InternVL): every output, every token, cosine ≥ QUANT_COSINE_MIN (int8 0.999, int4 0.98), all
// finite; at precision f32 and f16 (f16 where the adapter has shader-f16). The fixtures' weights are
// random, which is harder on int4 than trained weights (no smooth structure for the scales to fit).
import { describe, expect, it } from 'vitest';
import { QUANT_COSINE_MIN } from '../../src/model/quantized.js';
import type { QuantScheme } from '../../src/runtime/quant.js';
import { useGpu } from '../node-gpu.js';
import { diskFixture, listFixtures } from './fixtures.js';
import { checkFixtureCosine, formatCosineFixture, type FixtureKind } from './parity-core.js';

const fixtures: [FixtureKind, string][] = [
  ...listFixtures('model').map((n) => ['model', n] as [FixtureKind, string]),
  ...listFixtures('internvl').map((n) => ['internvl', n] as [FixtureKind, string]),
];
const NO_F16 = "the adapter has no 'shader-f16': the f16 path cannot run here";

for (const scheme of ['int8', 'int4'] as QuantScheme[]) {
  for (const precision of ['f32', 'f16'] as const) {
    describe(`weightStorage '${scheme}', precision ${precision} vs PyTorch float64: per-token cosine ≥ ${QUANT_COSINE_MIN[scheme]}`, () => {
      const gpu = useGpu();
      it('has every fixture to check', () => expect(fixtures.length).toBeGreaterThanOrEqual(14));
      for (const [kind, name] of fixtures) {
        it(`${kind}/${name}`, async (ctx) => {
          if (precision === 'f16' && !gpu().features.shaderF16) {
            console.log(`SKIP ${scheme} f16 ${kind}/${name}: ${NO_F16}`);
            ctx.skip(NO_F16);
          }
          const r = await checkFixtureCosine(gpu(), diskFixture(kind, name), precision, { weightStorage: scheme }, QUANT_COSINE_MIN[scheme]);
          console.log(formatCosineFixture(r));
          expect(r.problems).toEqual([]);
          expect(r.outputs.length).toBeGreaterThanOrEqual(1);
          for (const o of r.outputs) {
            expect(o.nonFinite, `${r.id} ${o.name}: non-finite values`).toBe(0);
            expect(o.min, `${r.id} ${o.name}: token ${o.worstRow}`).toBeGreaterThanOrEqual(QUANT_COSINE_MIN[scheme]);
          }
        });
      }
    });
  }
}
