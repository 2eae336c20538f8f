// `internvit features` in-process on the tiny layernorm-f32 model (S = 28: 2×2 patches per tile).
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { useGpu } from '../node-gpu.js';
import { parseSafetensors } from '../../src/runtime/safetensors.js';
import { readOutputs, runCli, safetensorsMetadata, tempDir } from './harness.js';

const LN = 'test/fixtures/model/layernorm-f32';
const IMAGE = 'test/fixtures/preprocess/sources/d_100x25.png'; // 100×25: InternVL grid 4×1 + thumbnail

describe('internvit features', () => {
  const gpu = useGpu();
  const tmp = tempDir();
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('writes the stitched map, thumbnail, labels and PNGs at the image size; --no-stitch equals embed tokens per tile', async () => {
    const out = join(tmp, 'f.safetensors');
    const [pcaPng, simPng, clusterPng] = ['pca.png', 'sim.png', 'clusters.png'].map((f) => join(tmp, f));
    const r = await runCli(['features', '--model', LN, '--image', IMAGE, '--output', out, '--pca', pcaPng,
      '--similarity', '10,5', '--png', simPng, '--clusters', '3', '--clusters-png', clusterPng, '--overlay'], gpu());
    expect(r.code).toBe(0);
    const file = parseSafetensors(readFileSync(out), out).tensors;
    expect([...file.keys()]).toEqual(['features', 'thumbnail', 'labels']);
    expect(file.get('features')!.info.shape).toEqual([32, 2, 8]);
    expect(file.get('thumbnail')!.info.shape).toEqual([32, 2, 2]);
    const labels = file.get('labels')!;
    expect([labels.info.dtype, labels.info.shape]).toEqual(['I32', [2, 8]]);
    expect(new Set(new Int32Array(new Uint8Array(labels.bytes).buffer))).toEqual(new Set([0, 1, 2]));
    const meta = safetensorsMetadata(out);
    expect(meta).toMatchObject({ grid: '4x1', tiles: '5', layer: '2', patch_size: '14', patch_grid: '2x2', stitched: 'true', image_size: '100x25' });
    expect(JSON.parse(meta.region!)).toEqual({ x: 0, y: 0, width: 100, height: 25 });
    for (const png of [pcaPng, simPng, clusterPng]) {
      const img = PNG.sync.read(readFileSync(png!));
      expect([img.width, img.height], png).toEqual([100, 25]);
    }

    const tiles = join(tmp, 'tiles.safetensors');
    const emb = join(tmp, 'emb.safetensors');
    expect((await runCli(['features', '--model', LN, '--image', IMAGE, '--output', tiles, '--no-stitch', '--layer', '1'], gpu())).code).toBe(0);
    expect((await runCli(['embed', '--model', LN, '--image', IMAGE, '--output', emb, '--hidden-states'], gpu())).code).toBe(0);
    const t = readOutputs(tiles).get('features')!;
    const h1 = readOutputs(emb).get('hidden_states.1')!;
    expect(t.shape).toEqual([5, 32, 2, 2]);
    // (T, 1 + 4, D) tokens → (T, D, 2, 2), written out index by index.
    const want = new Float32Array(5 * 32 * 4);
    for (let tile = 0; tile < 5; tile++) for (let d = 0; d < 32; d++) for (let p = 0; p < 4; p++) want[(tile * 32 + d) * 4 + p] = h1.data[(tile * 5 + 1 + p) * 32 + d]!;
    expect(Array.from(t.data)).toEqual(Array.from(want));
  });

  it('refuses contradictory or out-of-range flags in one line before the GPU starts', async () => {
    const out = join(tmp, 'x.safetensors');
    const cases: [string[], RegExp][] = [
      [['--similarity', '10,5'], /--similarity X,Y and --png OUT.png go together/],
      [['--similarity', '10;5', '--png', join(tmp, 's.png')], /--similarity must be X,Y/],
      [['--similarity', '100,5', '--png', join(tmp, 's.png')], /outside the 100×25 image/],
      [['--no-stitch', '--pca', join(tmp, 'p.png')], /leave out --no-stitch/],
      [['--layer', 'last'], /--layer must be an integer/],
      [['--overlay'], /--overlay blends a picture/],
      [['--clusters', '0'], /--clusters must be an integer ≥ 1/],
    ];
    for (const [flags, msg] of cases) {
      const r = await runCli(['features', '--model', LN, '--image', IMAGE, '--output', out, ...flags]);
      expect(r.code, flags.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.split('\n')).toHaveLength(1);
    }
    const bad = await runCli(['features', '--model', LN, '--image', IMAGE, '--output', out, '--layer', '7'], gpu());
    expect(bad.stderr).toMatch(/layer 7 is outside 0\.\.2/);
  });
});
