// Whole preprocessing vs the Python pipelines (reference/make_preprocess_fixtures.py: Pillow resizes,
// InternVL's dynamic_preprocess + torchvision normalize, Transformers' CLIPImageProcessor), per mode;
// decoders; plan caching; error cases.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeImage, type DecodedImage } from '../../src/model/image.js';
import { clearPreprocessCache, preprocess, preprocessLayout, preprocessReference, type PreprocessOptions } from '../../src/model/preprocess.js';
import { disposeTensor, readTensor } from '../../src/runtime/tensor.js';
import { useGpu } from '../node-gpu.js';

const dir = new URL('../fixtures/preprocess/', import.meta.url);
interface Case {
  name: string; source: string; width: number; height: number; mode: 'internvl' | 'clip' | 'none'; size: number;
  minTiles?: number; maxTiles?: number; thumbnail?: boolean; grid: [number, number]; tiles: number;
  tilesFile: string; floatsFile?: string; note?: string;
}
const fixture = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as { mean: number[]; std: number[]; pillow: string; cases: Case[] };

const optionsOf = (c: Case): PreprocessOptions => ({ mode: c.mode, size: c.size, minTiles: c.minTiles, maxTiles: c.maxTiles, thumbnail: c.thumbnail });
const isJpeg = (c: Case) => c.source.endsWith('.jpg');

/** Expected tiles as RGB bytes (T, S, S, 3) from the stacked PNG Pillow wrote. */
async function expectedTiles(c: Case): Promise<Uint8Array> {
  const png = await decodeImage(new URL(c.tilesFile, dir));
  const rgb = new Uint8Array((png.data.length / 4) * 3);
  for (let i = 0, j = 0; i < png.data.length; i += 4, j += 3) rgb.set(png.data.subarray(i, i + 3), j);
  return rgb;
}

/** uint8 levels back from pixel_values (T, 3, S, S) → (T, S, S, 3): the normalization is injective. */
function levelsOf(pv: Float32Array, T: number, S: number, mean: readonly number[], std: readonly number[]): Uint8Array {
  const out = new Uint8Array(T * S * S * 3);
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < S * S; i++) out[(t * S * S + i) * 3 + c] = Math.round((pv[(t * 3 + c) * S * S + i]! * std[c]! + mean[c]!) * 255);
    }
  }
  return out;
}

function byteDiff(got: Uint8Array, want: Uint8Array): { differ: number; max: number; mean: number } {
  let differ = 0;
  let max = 0;
  let sum = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (d) differ++;
    max = Math.max(max, d);
    sum += d;
  }
  return { differ, max, mean: sum / want.length };
}

describe(`preprocessing vs the Python pipelines (Pillow ${fixture.pillow})`, () => {
  const gpu = useGpu();

  for (const c of fixture.cases) {
    it(`${c.name}: ${c.width}×${c.height} ${c.mode} S=${c.size} → ${c.grid.join('×')} grid, ${c.tiles} tiles`, async () => {
      const image = await decodeImage(new URL(`sources/${c.source}`, dir));
      const layout = preprocessLayout(image.width, image.height, optionsOf(c));
      expect([layout.grid.cols, layout.grid.rows]).toEqual(c.grid);
      expect(layout.tiles).toBe(c.tiles);

      const res = await preprocess(gpu(), image, optionsOf(c));
      expect(res.shape).toEqual([c.tiles, 3, c.size, c.size]);
      const want = await expectedTiles(c);
      const got = levelsOf(res.pixelValues, c.tiles, c.size, fixture.mean, fixture.std);
      const cpu = preprocessReference(image, optionsOf(c)).tileBytes.filter((_, i) => i % 4 !== 3);
      const gpuVsPil = byteDiff(got, want);
      const cpuVsPil = byteDiff(cpu, want);
      console.log(`${c.name}: GPU tile bytes vs Pillow: ${gpuVsPil.differ}/${want.length} differ (max ${gpuVsPil.max}, mean ${gpuVsPil.mean.toFixed(3)}); CPU reference: ${cpuVsPil.differ} differ`);
      // The GPU equals the CPU reference exactly in every case, also for JPEG (same decoded pixels).
      expect(byteDiff(got, cpu).differ).toBe(0);
      if (isJpeg(c)) {
        // jpeg-js vs libjpeg: IDCT rounding (4:4:4: a level or two) and, for 4:2:0, chroma upsampling
        // (libjpeg's "fancy" triangle filter vs jpeg-js's replication: large only at sharp colour edges).
        if (c.source.includes('420')) expect(gpuVsPil.mean).toBeLessThanOrEqual(4);
        else expect(gpuVsPil.max).toBeLessThanOrEqual(3);
      } else {
        expect(gpuVsPil.differ).toBe(0);
      }

      if (c.floatsFile && !isJpeg(c)) {
        const buf = readFileSync(new URL(c.floatsFile, dir));
        const ref = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
        let maxErr = 0;
        let exact = 0;
        for (let i = 0; i < ref.length; i++) {
          const d = Math.abs(res.pixelValues[i]! - ref[i]!);
          maxErr = Math.max(maxErr, d);
          if (d === 0) exact++;
        }
        console.log(`${c.name}: pixel_values vs Python float32: max |err| ${maxErr.toExponential(2)}, ${exact}/${ref.length} bit-identical`);
        expect(maxErr).toBeLessThanOrEqual(1e-6);
        expect(exact).toBe(ref.length);
      } else if (!isJpeg(c)) {
        // No stored floats (large S): the float64 normalization of Pillow's bytes.
        let maxErr = 0;
        const S2 = c.size * c.size;
        for (let t = 0; t < c.tiles; t++) {
          for (let ch = 0; ch < 3; ch++) {
            for (let i = 0; i < S2; i++) {
              const w = (want[(t * S2 + i) * 3 + ch]! / 255 - fixture.mean[ch]!) / fixture.std[ch]!;
              maxErr = Math.max(maxErr, Math.abs(res.pixelValues[(t * 3 + ch) * S2 + i]! - w));
            }
          }
        }
        console.log(`${c.name}: pixel_values vs float64 normalization of Pillow's bytes: max |err| ${maxErr.toExponential(2)}`);
        expect(maxErr).toBeLessThanOrEqual(1e-6);
      }
    });
  }

  it('repeated images of the same size reuse the compiled plan (no new pipelines or buffers)', async () => {
    const g = gpu();
    const a = await decodeImage(new URL('sources/b_64x48.png', dir));
    const opts: PreprocessOptions = { size: 28, maxTiles: 12 };
    const first = await preprocess(g, a, opts);
    const before = { ...g.counters };
    const b: DecodedImage = { ...a, data: a.data.map((v) => 255 - v), name: 'inverted' };
    const second = await preprocess(g, b, opts);
    expect(g.counters.pipelinesCreated).toBe(before.pipelinesCreated);
    expect(g.counters.buffersCreated).toBe(before.buffersCreated);
    expect(g.counters.submits).toBe(before.submits + 1);
    expect(second.pixelValues).not.toEqual(first.pixelValues);
    // and the GPU-tensor output equals the host output
    const t = await preprocess(g, a, { ...opts, output: 'gpu' });
    expect(t.pixelValues.shape).toEqual(first.shape);
    expect(await readTensor(g, t.pixelValues)).toEqual(first.pixelValues);
    disposeTensor(g, t.pixelValues);
    clearPreprocessCache(g);
  });

  it('accepts raw RGB and RGBA pixels, and ignores alpha', async () => {
    const g = gpu();
    const png = await decodeImage(new URL('sources/a_37x23.png', dir));
    const rgb = new Uint8Array(37 * 23 * 3);
    const rgbaNoisyAlpha = png.data.slice();
    for (let i = 0; i < 37 * 23; i++) {
      rgb.set(png.data.subarray(i * 4, i * 4 + 3), i * 3);
      rgbaNoisyAlpha[i * 4 + 3] = (i * 37) & 255;
    }
    const opts: PreprocessOptions = { mode: 'none', size: 28 };
    const ref = await preprocess(g, png, opts);
    expect((await preprocess(g, { width: 37, height: 23, data: rgb }, opts)).pixelValues).toEqual(ref.pixelValues);
    expect((await preprocess(g, { width: 37, height: 23, data: rgbaNoisyAlpha }, opts)).pixelValues).toEqual(ref.pixelValues);
    expect((await preprocess(g, readFileSync(new URL('sources/a_37x23.png', dir)), opts)).pixelValues).toEqual(ref.pixelValues);
    expect((await preprocess(g, new URL('sources/a_37x23.png', dir).pathname, opts)).pixelValues).toEqual(ref.pixelValues);
  });
});

describe('decoding', () => {
  it('JPEG: jpeg-js within a few levels of libjpeg (PIL)', async () => {
    const pil = await decodeImage(new URL('sources/jpeg_48x40.pil.png', dir));
    const ours = await decodeImage(new URL('sources/jpeg_48x40.jpg', dir));
    const pil420 = await decodeImage(new URL('sources/jpeg420_48x40.pil.png', dir));
    const ours420 = await decodeImage(new URL('sources/jpeg420_48x40.jpg', dir));
    const rgbDiff = (a: DecodedImage, b: DecodedImage) => byteDiff(a.data.filter((_, i) => i % 4 !== 3), b.data.filter((_, i) => i % 4 !== 3));
    const d444 = rgbDiff(ours, pil);
    const d420 = rgbDiff(ours420, pil420);
    console.log(`jpeg-js vs libjpeg (PIL): 4:4:4 q95 ${d444.differ}/${48 * 40 * 3} bytes differ, max ${d444.max}, mean ${d444.mean.toFixed(3)}; ` +
      `4:2:0 q90 ${d420.differ} differ, max ${d420.max}, mean ${d420.mean.toFixed(3)}`);
    expect(d444.max).toBeLessThanOrEqual(3);
    // This source has per-channel noise (σ 18), i.e. strong chroma detail, the worst case for 4:2:0:
    // jpeg-js replicates subsampled chroma where libjpeg interpolates ("fancy upsampling").
    expect(d420.mean).toBeLessThanOrEqual(10);
  });

  it('16-bit PNG keeps the high byte of each sample', async () => {
    const img = await decodeImage(new URL('sources/gray16_20x10.png', dir));
    expect([img.width, img.height]).toEqual([20, 10]);
    for (let y = 0; y < 10; y++) {
      for (let x = 0; x < 20; x++) {
        const v = ((x * 3000 + y * 257) % 65536) >> 8;
        const p = (y * 20 + x) * 4;
        expect([img.data[p], img.data[p + 1], img.data[p + 2]]).toEqual([v, v, v]);
      }
    }
  });
});

describe('errors name the problem and the file', () => {
  const pngBytes = readFileSync(new URL('sources/b_64x48.png', dir));

  it('corrupt PNG', async () => {
    const truncated = pngBytes.subarray(0, Math.floor(pngBytes.length / 2));
    await expect(decodeImage(truncated, 'photo.png')).rejects.toThrow(/image 'photo\.png': corrupt PNG/);
    const garbled = Uint8Array.from(pngBytes);
    for (let i = 60; i < 200; i++) garbled[i] = (garbled[i]! * 7 + 3) & 255;
    await expect(decodeImage(garbled, 'garbled.png')).rejects.toThrow(/garbled\.png.*corrupt PNG/);
  });

  it('unsupported formats and empty inputs', async () => {
    const gif = new TextEncoder().encode('GIF89a\x01\x00\x01\x00');
    await expect(decodeImage(gif, 'anim.gif')).rejects.toThrow(/image 'anim\.gif': unsupported format GIF/);
    await expect(decodeImage(new TextEncoder().encode('hello world'), 'notes.txt')).rejects.toThrow(/notes\.txt': unsupported format \(first bytes 68 65/);
    await expect(decodeImage(new Uint8Array(0), 'empty.png')).rejects.toThrow(/empty\.png': file is empty/);
    await expect(decodeImage({ width: 0, height: 5, data: new Uint8Array(0) }, 'zero')).rejects.toThrow(/'zero': image is empty \(0×5\)/);
    await expect(decodeImage({ width: 4, height: 4, data: new Uint8Array(10) }, 'short')).rejects.toThrow(/'short': 10 bytes of pixels for 4×4/);
    await expect(decodeImage('/nonexistent/cat.png')).rejects.toThrow(/'\/nonexistent\/cat\.png': cannot read file/);
    await expect(decodeImage(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0]), 'broken.jpg')).rejects.toThrow(/broken\.jpg': corrupt JPEG: marker 0xffe0 at byte 2 has an invalid length 0/);
  });

  it('bad options', () => {
    expect(() => preprocessLayout(10, 10, { mode: 'squash' as never })).toThrow(/unknown mode 'squash'/);
    expect(() => preprocessLayout(10, 10, { size: 0 })).toThrow(/size must be/);
    expect(() => preprocessLayout(10, 10, { minTiles: 3, maxTiles: 2 })).toThrow(/maxTiles/);
    expect(() => preprocessLayout(10, 10, { std: [0.2, 0, 0.2] })).toThrow(/std > 0/);
    expect(() => preprocessLayout(0, 10)).toThrow(/empty/);
  });
});
