// The autotuner may only pick versions the kernel checks cover: every version of every table in
// VERSION_TABLES (src/kernels/versions-registry.ts) must name at least one check of src/kernels/*.check.ts and src/runtime/*.check.ts
// ("<kernel> … <version> …", e.g. "matmul f16 tiled64: …"). No GPU needed: only the names are read.
import { describe, expect, it } from 'vitest';
import { VERSION_TABLES } from '../../src/kernels/versions-registry.js';
import type { KernelCheck } from '../../src/kernels/check-harness.js';

const modules = import.meta.glob<{ checks?: KernelCheck[] }>(['../../src/kernels/*.check.ts', '../../src/runtime/*.check.ts']);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('kernel version registry', () => {
  it('lists tables with distinct kernels, each version named once', () => {
    expect(VERSION_TABLES.length).toBeGreaterThan(0);
    expect(new Set(VERSION_TABLES.map((t) => t.kernel)).size).toBe(VERSION_TABLES.length);
    for (const t of VERSION_TABLES) expect(new Set(t.versions.map((v) => v.name)).size, t.kernel).toBe(t.versions.length);
  });

  it('every version of every tuned table is covered by a kernel check', async () => {
    const names: string[] = [];
    for (const load of Object.values(modules)) names.push(...((await load()).checks ?? []).map((c) => c.name));
    const missing: string[] = [];
    for (const t of VERSION_TABLES) {
      for (const v of t.versions) {
        const pattern = new RegExp(`^${escape(t.kernel)}\\b.*(?<![\\w-])${escape(v.name)}(?![\\w-])`);
        const n = names.filter((x) => pattern.test(x)).length;
        console.log(`${t.kernel} ${v.name}: ${n} checks`);
        if (n === 0) missing.push(`${t.kernel} ${v.name}`);
      }
    }
    expect(missing, 'versions without a check: a table joins VERSION_TABLES once its versions are checked').toEqual([]);
  });
});
