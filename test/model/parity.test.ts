// The whole encoder against float64 PyTorch outputs (reference/make_fixtures.py), every fixture,
// every output: |got − want| ≤ 5e-4 + 5e-4·|want| elementwise. The comparison lives in parity-core.ts,
// shared with the browser run (test/browser/model-parity.browser.test.ts).
import { describe, expect, it } from 'vitest';
import { useGpu } from '../node-gpu.js';
import { formatResult } from '../../src/kernels/check-harness.js';
import { diskFixture, listFixtures } from './fixtures.js';
import { checkFixture, formatFixture } from './parity-core.js';

const fixtures = listFixtures('model');

describe('InternViT forward vs PyTorch float64 (Node)', () => {
  const gpu = useGpu();

  it('has fixtures to check', () => expect(fixtures.length).toBeGreaterThanOrEqual(8));

  for (const name of fixtures) {
    it(name, async () => {
      const r = await checkFixture(gpu(), diskFixture('model', name));
      for (const o of r.outputs) if (!o.ok || o.name.endsWith(' last_hidden_state')) console.log(formatResult(o));
      console.log(formatFixture(r));
      // Every expected output (last_hidden_state, pooler_output, hidden_states.i) produced with its shape...
      expect(r.problems).toEqual([]);
      expect(r.outputs.length).toBeGreaterThanOrEqual(3);
      // ...and within tolerance.
      for (const o of r.outputs) expect(o.ok, formatResult(o)).toBe(true);
      // The batch-of-3 fixture is also run in passes under a lowered binding limit (parity-core checkSplit).
      if (name === 'batch3-42x56') expect(r.splitPasses).toEqual([2, 1]);
    });
  }
});
