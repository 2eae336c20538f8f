// Checkpoint fuzzing: mutated safetensors headers, data layouts, config.json files and shard
// indexes of a tiny generated checkpoint (standalone and InternVL chat). Every case must end in an
// Error naming the file and the problem, or load when the mutation is harmless: no engine error
// (TypeError …), no non-Error throw, no hang, no allocation sized by an absurd header or config.
// Most cases are checked without a GPU (openCheckpoint + parseConfig + validateCheckpoint: all
// that runs before a byte is uploaded); a handful go through a full GPU load and forward, and a
// sample through the CLI. Default: 300 random cases; INTERNVIT_FUZZ=full: 1200; both add every
// config field set to every absurd value (about 700 more). Seeds are fixed.
import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InternViT } from '../../src/api.js';
import { checkpointConfig } from '../../src/model/config.js';
import { validateCheckpoint } from '../../src/model/weights.js';
import { checkpointQuantization } from '../../src/model/quantized.js';
import { MAX_TEXT_BYTES, memoryStore, openCheckpoint } from '../../src/runtime/loader.js';
import { makeTempDir, serveFolder, writeFiles } from '../runtime/checkpoint-helpers.js';
import { runCli, tempDir } from '../cli/harness.js';
import { randomArray } from '../../src/kernels/check-harness.js';
import { useGpu } from '../node-gpu.js';
import { assemble, baseCheckpoint, configCases, FULL_FUZZ, misaligned, mutateCheckpoint, type BaseCheckpoint, type CheckpointCase } from './mutate.js';
import { defects, outcome, summarize, type Outcome } from './outcome.js';

const PER_BASE = FULL_FUZZ ? 300 : 75; // × 4 bases: 1200 / 300
const bases = [
  baseCheckpoint('standalone'), baseCheckpoint('chat'),
  // Pre-quantized layouts (I8 / U8 packed weights, F32 scales, quantization_config).
  baseCheckpoint('standalone', undefined, { scheme: 'int4', groupSize: 32 }), baseCheckpoint('chat', undefined, { scheme: 'int8', groupSize: null }),
];
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
    validateCheckpoint(ckpt, config, { projector: config.chat !== null, quant: checkpointQuantization(ckpt.config, ckpt.configFile) });
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

  describe('valid but unusual layouts that mutations rarely produce', () => {
    const gpu = useGpu();
    const pixels = randomArray(3 * 28 * 28, 6);
    const forward = async (files: Record<string, Uint8Array>, opts: { weightStorage?: 'f32' } = {}) => {
      const vit = await InternViT.load(memoryStore(files, 'unusual'), { gpu: gpu(), ...opts });
      try {
        return (await vit.embedPixels(pixels, [1, 3, 28, 28])).lastHiddenState;
      } finally {
        vit.dispose();
      }
    };
    const configText = (b: BaseCheckpoint) => new TextEncoder().encode(JSON.stringify(b.config));

    it('every tensor at an unaligned offset (1, 2, 3 bytes of padding before each) loads the same weights', async () => {
      const base = bases[0]!;
      const want = await forward({ 'config.json': configText(base), 'model.safetensors': assemble(new TextEncoder().encode(JSON.stringify(base.header)), base.data) });
      for (const pad of [1, 2, 3]) {
        const got = await forward({ 'config.json': configText(base), 'model.safetensors': misaligned(base, pad) });
        expect(got.shape).toEqual(want.shape);
        expect(Array.from(got.data), `padding ${pad}`).toEqual(Array.from(want.data));
      }
    }, 120_000);

    it('16-bit linear weights with an odd element count (projector 13×13) load, bit-identical to widening them at load', async () => {
      const odd = baseCheckpoint('chat', 13);
      const files = { 'config.json': configText(odd), 'model.safetensors': assemble(new TextEncoder().encode(JSON.stringify(odd.header)), odd.data) };
      const tokens = async (weightStorage?: 'f32') => {
        const vit = await InternViT.load(memoryStore(files, 'odd'), { gpu: gpu(), weightStorage });
        try {
          return await vit.imageTokensFromPixels(pixels, [1, 3, 28, 28]);
        } finally {
          vit.dispose();
        }
      };
      const bf16 = await tokens();
      const f32 = await tokens('f32');
      expect(bf16.shape).toEqual([1, 1, 13]);
      expect(bf16.data.every(Number.isFinite)).toBe(true);
      expect(Array.from(bf16.data)).toEqual(Array.from(f32.data));
    }, 120_000);
  });

  it('a sample served over HTTP (Range requests) ends the same way, the error naming the URL', async () => {
    const outcomes = await results();
    const tmp = await makeTempDir();
    const server = await serveFolder(tmp.dir);
    try {
      const sample = outcomes.map((o, i) => [o, i] as const).filter((_, k) => k % 9 === 0).slice(0, 40);
      for (const [, i] of sample) await writeFiles(join(tmp.dir, where(i)), cases[i]!.files);
      const http: Outcome[] = [];
      for (const [o, i] of sample) {
        const url = `${server.url}/${where(i)}/`;
        const r = await outcome(o.label, url, async () => {
          const ckpt = await openCheckpoint(url);
          try {
            const config = checkpointConfig(ckpt);
            validateCheckpoint(ckpt, config, { projector: config.chat !== null, quant: checkpointQuantization(ckpt.config, ckpt.configFile) });
          } finally {
            await ckpt.close();
          }
        });
        expect(r.ok, `${o.label}: over HTTP ${r.ok ? 'validated' : `refused (${r.message})`}, in memory ${o.ok ? 'validated' : `refused (${o.message})`}`).toBe(o.ok);
        http.push(r);
      }
      console.log(`${sample.length} mutated checkpoints over HTTP:\n${summarize(http)}`);
      expect(defects(http), defects(http).join('\n')).toEqual([]);
    } finally {
      await server.close();
      await tmp.cleanup();
    }
  }, 60_000);

  it('config.json above 16 MiB is refused before it is read (memory, folder, URL)', async () => {
    const big = new Uint8Array(MAX_TEXT_BYTES + 1).fill(0x20);
    const model = assemble(new TextEncoder().encode(JSON.stringify(bases[0]!.header)), bases[0]!.data);
    await expect(openCheckpoint(memoryStore({ 'config.json': big, 'model.safetensors': model }, 'fuzz-big')))
      .rejects.toThrow(/^fuzz-big\/config\.json: 16777217 bytes is too large for a JSON file \(limit 16777216/);
    const tmp = await makeTempDir();
    const server = await serveFolder(tmp.dir);
    try {
      await writeFiles(tmp.dir, { 'model.safetensors': model });
      const fd = openSync(join(tmp.dir, 'config.json'), 'w');
      ftruncateSync(fd, MAX_TEXT_BYTES + 1); // sparse: nothing is written
      closeSync(fd);
      await expect(openCheckpoint(tmp.dir)).rejects.toThrow(/config\.json: 16777217 bytes is too large for a JSON file/);
      await expect(openCheckpoint(`${server.url}/`)).rejects.toThrow(/config\.json: 16777217 bytes is too large for a JSON file/);
    } finally {
      await server.close();
      await tmp.cleanup();
    }
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
