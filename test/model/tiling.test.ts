// dynamic_preprocess grid choice vs the Python logic run by reference/make_preprocess_fixtures.py
// (CPython's own set order, ties and all).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chooseGrid, pythonTupleHash, targetRatios } from '../../src/model/tiling.js';

interface SweepCase { width: number; height: number; min: number; max: number; size: number; grid: [number, number]; tie: boolean; orderSensitive?: boolean }
const sweep = JSON.parse(readFileSync(new URL('../fixtures/preprocess/tiling-sweep.json', import.meta.url), 'utf8')) as {
  python: string; cases: SweepCase[]; orders: Record<string, string>;
};

describe('InternVL dynamic tiling', () => {
  it('CPython tuple hash matches known values', () => {
    // hash((1, 2)) and hash((12, 1)) in CPython ≥ 3.8 on 64-bit builds, as signed Py_hash_t.
    const signed = (h: bigint) => (h >= 1n << 63n ? h - (1n << 64n) : h);
    expect(signed(pythonTupleHash([1, 2]))).toBe(-3550055125485641917n);
    expect(signed(pythonTupleHash([0, 0]))).toBe(-8458139203682520985n);
  });

  it(`candidate order equals CPython ${sweep.python}'s sorted(set(...)) for ${Object.keys(sweep.orders).length} (min, max) pairs`, () => {
    let mismatches = 0;
    for (const [key, want] of Object.entries(sweep.orders)) {
      const [mn, mx] = key.split(',').map(Number) as [number, number];
      const got = targetRatios(mn, mx).map((g) => `${g.cols},${g.rows}`).join(';');
      if (got !== want) {
        mismatches++;
        if (mismatches < 4) console.log(`order mismatch for min=${mn} max=${mx}:\n got  ${got}\n want ${want}`);
      }
    }
    expect(mismatches).toBe(0);
  });

  it(`grid equals Python's for ${sweep.cases.length} sizes (${sweep.cases.filter((c) => c.tie).length} exact ties, ${sweep.cases.filter((c) => c.orderSensitive).length} decided by set order)`, () => {
    const bad = sweep.cases.filter((c) => {
      const g = chooseGrid(c.width, c.height, c.size, c.min, c.max);
      return g.cols !== c.grid[0] || g.rows !== c.grid[1];
    });
    for (const c of bad.slice(0, 5)) console.log('mismatch', c, chooseGrid(c.width, c.height, c.size, c.min, c.max));
    expect(bad.length).toBe(0);
  });

  it('the documented examples at S=448, max 12', () => {
    const g = (w: number, h: number) => { const r = chooseGrid(w, h, 448, 1, 12); return [r.cols, r.rows]; };
    expect(g(448, 448)).toEqual([1, 1]);
    expect(g(1000, 1000)).toEqual([3, 3]);
    expect(g(800, 600)).toEqual([4, 3]);
    expect(g(1920, 1080)).toEqual([4, 2]);
    expect(g(2000, 500)).toEqual([4, 1]);
  });

  it('rejects bad tile ranges and sizes with clear errors', () => {
    expect(() => chooseGrid(10, 10, 448, 0, 4)).toThrow(/minTiles/);
    expect(() => chooseGrid(10, 10, 448, 5, 4)).toThrow(/maxTiles/);
    expect(() => chooseGrid(0, 10, 448)).toThrow(/positive/);
  });
});
