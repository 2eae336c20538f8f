// Image fuzzing: the preprocessing fixture PNGs (RGB, RGBA, grey, 16-bit grey, palette) and JPEGs
// (4:4:4, 4:2:0; test/fuzz/fixtures: progressive) with chunk lengths, CRCs, IHDR fields, JPEG marker lengths and frame headers
// changed, chunks removed, files truncated and random bytes flipped. Each must be refused with an
// Error naming the file and the problem, or decode (a flip in entropy-coded JPEG data may be
// harmless) into RGBA of the header's size; a few decoded ones go through GPU preprocessing (finite
// pixel_values of the right shape) and a sample of refused ones through the CLI (one line, exit 1).
// Default: 80 cases; INTERNVIT_FUZZ=full: 240. Seeds are fixed.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage, type DecodedImage } from '../../src/model/image.js';
import { preprocess } from '../../src/model/preprocess.js';
import { runCli, tempDir } from '../cli/harness.js';
import { useGpu } from '../node-gpu.js';
import { FULL_FUZZ, mutateImage, type ImageCase } from './mutate.js';
import { defects, outcome, summarize, type Outcome } from './outcome.js';

const FOLDERS = [new URL('../fixtures/preprocess/sources/', import.meta.url), new URL('./fixtures/', import.meta.url)];
const sources = FOLDERS.flatMap((dir) => readdirSync(dir).filter((f) => /\.(png|jpg)$/.test(f)).sort()
  .map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(new URL(f, dir))) })));
const COUNT = FULL_FUZZ ? 240 : 80;
const cases: (ImageCase & { file: string })[] = Array.from({ length: COUNT }, (_, i) => {
  const src = sources[i % sources.length]!;
  return { ...mutateImage(src.name, src.bytes, i), file: `fuzz-${i}-${src.name}` };
});

const decoded = new Map<number, DecodedImage>();
let all: Promise<Outcome[]> | null = null;
function results(): Promise<Outcome[]> {
  return (all ??= (async () => {
    const out: Outcome[] = [];
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      out.push(await outcome(c.label, c.file, async () => {
        const img = await decodeImage(c.bytes, c.file);
        if (!(img.width > 0 && img.height > 0 && img.data.length === img.width * img.height * 4)) {
          throw new TypeError(`decoded ${img.width}×${img.height} with ${img.data.length} bytes`); // a defect, not a named error
        }
        decoded.set(i, img);
      }));
    }
    return out;
  })());
}

describe(`image fuzz (${COUNT} cases from ${sources.length} images${FULL_FUZZ ? ', INTERNVIT_FUZZ=full' : '; INTERNVIT_FUZZ=full runs 240'})`, () => {
  it('every mutated image is refused with a named error or decodes to RGBA of its size', async () => {
    const outcomes = await results();
    console.log(`${COUNT} mutated images:\n${summarize(outcomes)}`);
    expect(defects(outcomes), defects(outcomes).slice(0, 10).join('\n')).toEqual([]);
    expect(outcomes.filter((o) => !o.ok).length).toBeGreaterThan(COUNT * 0.6);
  }, 60_000);

  describe('decoded ones through GPU preprocessing', () => {
    const gpu = useGpu();
    it('give finite pixel_values of the right shape', async () => {
      const outcomes = await results();
      const ok = outcomes.map((o, i) => [o, i] as const).filter(([o]) => o.ok).slice(0, 4);
      expect(ok.length, 'no mutated image decoded').toBeGreaterThan(0);
      for (const [o, i] of ok) {
        const px = await preprocess(gpu(), decoded.get(i)!, { mode: 'none', size: 28 });
        expect(px.shape, o.label).toEqual([1, 3, 28, 28]);
        expect(px.pixelValues.every(Number.isFinite), `${o.label}: non-finite pixel_values`).toBe(true);
        console.log(`${o.label} → decoded ${decoded.get(i)!.width}×${decoded.get(i)!.height}, pixel_values finite`);
      }
    }, 120_000);
  });

  it('the CLI prints one line and exits 1 for a sample of the refused ones (no stack trace)', async () => {
    const outcomes = await results();
    const dir = tempDir();
    const sample = outcomes.map((o, i) => [o, i] as const).filter(([o]) => !o.ok).filter((_, k) => k % 6 === 0).slice(0, 10);
    for (const [o, i] of sample) {
      const path = join(dir, cases[i]!.file);
      writeFileSync(path, cases[i]!.bytes);
      const r = await runCli(['preprocess', '--image', path, '--output', join(dir, 'out.safetensors')]);
      const lines = r.stderr.split('\n').filter(Boolean);
      expect(r.code, o.label).toBe(1);
      expect(lines, `${o.label}: ${r.stderr}`).toHaveLength(1);
      expect(lines[0], o.label).toMatch(new RegExp(`^internvit: image '[^']*${cases[i]!.file.replace(/\./g, '\\.')}': \\S`));
      expect(lines[0], o.label).not.toMatch(/internal error/);
    }
    console.log(`CLI: ${sample.length} mutated images, each one 'internvit: image …' line with exit 1`);
  }, 60_000);
});
