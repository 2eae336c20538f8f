// Checkpoint fuzzing: mutated safetensors headers, data layouts, config.json files and shard
// indexes of a tiny generated checkpoint (standalone and InternVL chat). Every case must end in an
// Error naming the file and the problem, or load when the mutation is harmless: no engine error
// (TypeError …), no non-Error throw, no hang, no allocation sized by an absurd header or config.
// Most cases are checked without a GPU (openCheckpoint + parseConfig + validateCheckpoint: all
// that runs before a byte is uploaded); a handful go through a full GPU load and forward, and a
// sample through the CLI. Default: 300 random cases; INTERNVIT_FUZZ=full: 1200; both add every
// config field set to every absurd value (about 700 more). Seeds are fixed.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InternViT } from '../../src/api.js';
import { checkpointConfig } from '../../src/model/config.js';
import { validateCheckpoint } from '../../src/model/weights.js';
import { memoryStore, openCheckpoint } from '../../src/runtime/loader.js';
import { runCli, tempDir } from '../cli/harness.js';
import { randomArray } from '../checks/harness.js';
import { useGpu } from '../node-gpu.js';
import { baseCheckpoint, configCases, FULL_FUZZ, mutateCheckpoint, type CheckpointCase } from './mutate.js';
import { defects, outcome, summarize, type Outcome } from './outcome.js';

const PER_BASE = FULL_FUZZ ? 600 : 150;
const bases = [baseCheckpoint('standalone'), baseCheckpoint('chat')];
const cases: CheckpointCase[] = [
  ...bases.flatMap((b) => Array.from({ length: PER_BASE }, (_, i) => mutateCheckpoint(b, i))),
  ...bases.flatMap(configCases),
];
const where = (i: number) => `fuzz-${i}`;

/** Everything that runs before the GPU is touched: headers, config, tensor check. */
async function validate(c: CheckpointCase, location: string): Promise<void> {
  const ckpt = await openCheckpoint(memoryStore(c.files, location));
  try {
    const config = checkpointConfig(ckpt);
    validateCheckpoint(ckpt, config, { projector: config.chat !== null });
  } finally {
    await ckpt.close();
  }
}

// Every case once, shared by the tests below (each may also run alone with -t).
let all: Promise<Outcome[]> | null = null;
function results(): Promise<Outcome[]> {
  return (all ??= (async () => {
    const out: Outcome[] = [];
    for (let i = 0; i < cases.length; i++) out.push(await outcome(cases[i]!.label, where(i), () => validate(cases[i]!, where(i))));
    return out;
  })());
}

describe(`checkpoint fuzz (${cases.length} cases${FULL_FUZZ ? ', INTERNVIT_FUZZ=full' : '; INTERNVIT_FUZZ=full runs 900 more'})`, () => {
  it('every mutated checkpoint is refused with a named error or validates', async () => {
    const outcomes = await results();
    console.log(`${cases.length} mutated checkpoints:\n${summarize(outcomes)}`);
    expect(defects(outcomes), defects(outcomes).slice(0, 10).join('\n')).toEqual([]);
    // The mutations must mostly hit: a fuzzer whose cases all validate tests nothing.
    expect(outcomes.filter((o) => !o.ok).length).toBeGreaterThan(cases.length * 0.8);
  }, 120_000);

  describe('a handful through a full GPU load and forward', () => {
    const gpu = useGpu();
    it('loads the harmless ones (finite outputs of the right shape) and names the problem in the others', async () => {
      const outcomes = await results();
      const valid = outcomes.map((o, i) => [o, i] as const).filter(([o]) => o.ok).slice(0, 4);
      const refused = outcomes.map((o, i) => [o, i] as const).filter(([o]) => !o.ok).slice(0, 3);
      expect(valid.length, 'no mutated checkpoint validated, so none can be loaded').toBeGreaterThan(0);
      const pixels = randomArray(3 * 28 * 28, 5);
      for (const [o, i] of [...valid, ...refused]) {
        const r = await outcome(o.label, where(i), async () => {
          const vit = await InternViT.load(memoryStore(cases[i]!.files, where(i)), { gpu: gpu() });
          try {
            const out = await vit.embedPixels(pixels, [1, 3, 28, 28]);
            expect(out.lastHiddenState.shape).toEqual([1, 5, 8]);
            expect(out.lastHiddenState.data.every(Number.isFinite), `${o.label}: non-finite output`).toBe(true);
          } finally {
            vit.dispose();
          }
        }, 60_000); // compiling the pipelines dominates on a software adapter
        console.log(`${o.label} → ${r.ok ? 'loaded, forward finite' : r.message}`);
        expect(r.defect, r.defect).toBeUndefined();
        expect(r.ok, `${o.label}: GPU load disagrees with validation`).toBe(o.ok);
      }
    }, 120_000);
  });

  it('the CLI prints one line and exits 1 for a sample of them (no stack trace)', async () => {
    const dir = tempDir();
    const outcomes = await results();
    const sample = outcomes.map((o, i) => [o, i] as const).filter(([o]) => !o.ok).filter((_, k) => k % 25 === 0).slice(0, 12);
    for (const [o, i] of sample) {
      const folder = join(dir, where(i));
      mkdirSync(folder);
      for (const [name, bytes] of Object.entries(cases[i]!.files)) writeFileSync(join(folder, name), bytes);
      const r = await runCli(['info', '--model', folder]);
      const lines = r.stderr.split('\n').filter(Boolean);
      expect(r.code, o.label).toBe(1);
      expect(lines, `${o.label}: ${r.stderr}`).toHaveLength(1);
      expect(lines[0], o.label).toMatch(/^internvit: \S/);
      expect(lines[0], o.label).not.toMatch(/internal error|\n\s+at /);
    }
    console.log(`CLI: ${sample.length} mutated checkpoints, each one 'internvit: …' line with exit 1`);
  }, 60_000);
});
