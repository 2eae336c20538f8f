import { describe, expect, it } from 'vitest';
import { availableVersions, chooseVersion, tuningKey, type VersionTable } from '../../src/runtime/versions.js';
import { createPlan, input, type Plan } from '../../src/runtime/plan.js';
import type { Gpu } from '../../src/runtime/device.js';

// A table over a toy shape: the logic is host-only, so a fake Gpu is enough.
interface Shape { n: number }
const table: VersionTable<Shape> = {
  kernel: 'toy',
  versions: [
    { name: 'a', summary: 'always' },
    { name: 'b', summary: 'only n < 10', unavailable: (_g, s) => (s.n < 10 ? null : `n=${s.n} is too large`) },
  ],
  heuristic: (_g, s) => (s.n < 5 ? 'b' : 'a'),
  key: (s) => `n${s.n}`,
  trial: (plan) => input(plan, 'x', [1]),
};
const gpu = { features: {} } as unknown as Gpu;
const plan = (): Plan => createPlan(gpu, 'p');

describe('kernel version tables', () => {
  it('uses the heuristic without a tuned choice, and logs it', () => {
    const p = plan();
    expect(chooseVersion(p, table, { n: 3 })).toBe('b');
    expect(chooseVersion(p, table, { n: 7 })).toBe('a');
    expect(p.versionLog).toEqual([
      { kernel: 'toy', key: 'n3', version: 'b', source: 'heuristic', shape: { n: 3 } },
      { kernel: 'toy', key: 'n7', version: 'a', source: 'heuristic', shape: { n: 7 } },
    ]);
  });
  it('prefers a tuned choice when it can run, else falls back to the heuristic', () => {
    const p = plan();
    p.tunedVersions = new Map([[tuningKey('toy', 'n7'), 'b'], [tuningKey('toy', 'n12'), 'b']]);
    expect(chooseVersion(p, table, { n: 7 })).toBe('b');
    expect(chooseVersion(p, table, { n: 12 })).toBe('a');
    expect(p.versionLog!.map((c) => c.source)).toEqual(['tuned', 'heuristic']);
  });
  it('refuses an unknown or unavailable explicit version, naming the alternatives or the reason', () => {
    expect(() => chooseVersion(plan(), table, { n: 1 }, 'c', 'layer.0')).toThrow(/layer\.0: unknown toy version 'c' \(one of: a, b\)/);
    expect(() => chooseVersion(plan(), table, { n: 20 }, 'b')).toThrow(/toy version 'b' cannot run here: n=20 is too large/);
    expect(chooseVersion(plan(), table, { n: 20 }, 'a')).toBe('a');
  });
  it('lists the available versions', () => {
    expect(availableVersions(gpu, table, { n: 3 }).map((v) => v.name)).toEqual(['a', 'b']);
    expect(availableVersions(gpu, table, { n: 30 }).map((v) => v.name)).toEqual(['a']);
  });
});
