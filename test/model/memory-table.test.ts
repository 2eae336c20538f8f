// The README's memory table (Quantized weights) is computed from the preset configs by
// weightBytesByStorage, the code describe() and `internvit info` print from, never typed by hand:
// this test builds the table and requires the README to hold exactly it (the failure prints it).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../src/model/presets.js';
import { formatGpuBytes, MEMORY_STORAGES, weightBytesByStorage } from '../../src/model/weights.js';
import { INT4_GROUP_SIZE } from '../../src/runtime/quant.js';

function memoryTable(): string {
  const models = [['InternViT-300M', PRESETS['InternViT-300M-448px-V2_5'].config], ['InternViT-6B', PRESETS['InternViT-6B-448px-V2_5'].config]] as const;
  const head = `| model | ${MEMORY_STORAGES.map((s) => (s === 'int4' ? `int4 (group ${INT4_GROUP_SIZE})` : s)).join(' | ')} |`;
  const rule = `| --- |${MEMORY_STORAGES.map(() => ' ---: |').join('')}`;
  const rows = models.map(([name, c]) => `| ${name} | ${weightBytesByStorage(c).map((r) => formatGpuBytes(r.bytes)).join(' | ')} |`);
  return [head, rule, ...rows].join('\n');
}

describe('README memory table', () => {
  it('is what weightBytesByStorage computes from the configs', () => {
    const table = memoryTable();
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme.includes(table), `README.md should contain:\n${table}`).toBe(true);
  });
});
