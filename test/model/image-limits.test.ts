// Images are untrusted input: the pixel limit is applied from the header before any decoding
// (the 30000×30000 PNG), and truncated or corrupt PNG/JPEG files are refused with one line
// naming the file and the problem, through the API, the preprocessing options and the CLI.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeImage, DEFAULT_MAX_IMAGE_PIXELS } from '../../src/model/image.js';
import { preprocess } from '../../src/model/preprocess.js';
import { InternViT } from '../../src/api.js';
import { at, runCli, tempDir } from '../cli/harness.js';
import { useGpu } from '../node-gpu.js';
import { pngClaiming, pngFile } from '../fuzz/png-bytes.js';

const dir = new URL('../fixtures/preprocess/sources/', import.meta.url);
const png = new Uint8Array(readFileSync(new URL('a_37x23.png', dir))); // 37×23 = 851 pixels
const jpeg = new Uint8Array(readFileSync(new URL('jpeg_48x40.jpg', dir)));

/** The JPEG with its frame header (SOF0) claiming width × height. */
function jpegClaiming(width: number, height: number): Uint8Array {
  const b = Uint8Array.from(jpeg);
  const sof = b.findIndex((v, i) => v === 0xff && b[i + 1] === 0xc0);
  b[sof + 5] = height >> 8; b[sof + 6] = height & 255;
  b[sof + 7] = width >> 8; b[sof + 8] = width & 255;
  return b;
}

describe('the pixel limit, from the header, before decoding', () => {
  it(`refuses the issue's 30000×30000 PNG in milliseconds (default limit ${DEFAULT_MAX_IMAGE_PIXELS}, Pillow's)`, async () => {
    const bomb = pngClaiming(30000, 30000);
    expect(bomb.length).toBeLessThan(100);
    const t = performance.now();
    await expect(decodeImage(bomb, 'huge.png')).rejects.toThrow(
      /^image 'huge\.png': 30000×30000 is 900000000 pixels, more than the limit of 178956970 \(maxImagePixels/);
    const ms = performance.now() - t;
    console.log(`30000×30000 PNG header refused in ${ms.toFixed(2)} ms`);
    expect(ms).toBeLessThan(100);
  });

  it('the limit is exact and an option: 851 pixels pass at 851, fail at 850', async () => {
    expect((await decodeImage(png, 'a.png', { maxImagePixels: 851 })).width).toBe(37);
    await expect(decodeImage(png, 'a.png', { maxImagePixels: 850 })).rejects.toThrow(/'a\.png': 37×23 is 851 pixels, more than the limit of 850/);
    // Just under the default passes the header check (and is then found to have too little data).
    const side = Math.floor(Math.sqrt(DEFAULT_MAX_IMAGE_PIXELS));
    await expect(decodeImage(pngClaiming(side, side), 'big.png')).rejects.toThrow(/'big\.png': corrupt PNG: .*cut short|truncated image data/);
    await expect(decodeImage(png, 'a.png', { maxImagePixels: 0 })).rejects.toThrow(/maxImagePixels must be a positive integer/);
    await expect(decodeImage(png, 'a.png', { maxImagePixels: Infinity })).resolves.toBeDefined();
  });

  it('JPEG: from the frame header (SOF), before jpeg-js allocates', async () => {
    const t = performance.now();
    await expect(decodeImage(jpegClaiming(30000, 30000), 'huge.jpg')).rejects.toThrow(/'huge\.jpg': 30000×30000 is 900000000 pixels/);
    expect(performance.now() - t).toBeLessThan(100);
    await expect(decodeImage(jpeg, 'j.jpg', { maxImagePixels: 1919 })).rejects.toThrow(/48×40 is 1920 pixels, more than the limit of 1919/);
  });

  it('raw pixels and images already decoded obey the same limit', async () => {
    const raw = { width: 40, height: 30, data: new Uint8Array(40 * 30 * 4) };
    await expect(decodeImage(raw, 'raw', { maxImagePixels: 1000 })).rejects.toThrow(/'raw': 40×30 is 1200 pixels, more than the limit of 1000/);
  });
});

describe('truncated and corrupt files: one line naming the file and the problem', () => {
  it('PNG: cut short, a bad CRC, missing IEND, image data shorter or longer than the header says', async () => {
    await expect(decodeImage(png.subarray(0, 500), 'cut.png')).rejects.toThrow(/^image 'cut\.png': corrupt PNG: truncated: chunk 'IDAT' at byte 33 claims \d+ bytes, the file has 455/);
    const crc = Uint8Array.from(png);
    crc[45]! ^= 1; // a byte of IDAT data
    await expect(decodeImage(crc, 'crc.png')).rejects.toThrow(/'crc\.png': corrupt PNG: chunk 'IDAT' at byte 33 fails its CRC check/);
    await expect(decodeImage(png.subarray(0, png.length - 12), 'noend.png')).rejects.toThrow(/'noend\.png': corrupt PNG: truncated: no IEND chunk/);
    const rowBytes = 1 + 3 * 10;
    await expect(decodeImage(pngFile(10, 10, deflateSync(new Uint8Array(rowBytes * 9))), 'short.png'))
      .rejects.toThrow(/'short\.png': corrupt PNG: truncated image data: IDAT inflates to 279 bytes, a 10×10 image needs 310/);
    expect((await decodeImage(pngFile(10, 10, deflateSync(new Uint8Array(rowBytes * 10))), 'exact.png')).width).toBe(10);
  });

  it('PNG: an interlaced (Adam7) image has the inflated size its header implies, and decodes like the plain one', async () => {
    const [w, h] = [13, 11];
    const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37 + 11) & 255);
    const rows = (x0: number, y0: number, dx: number, dy: number) => {
      const out: number[] = [];
      for (let y = y0; y < h; y += dy) {
        if (x0 >= w) break;
        out.push(0); // filter type None
        for (let x = x0; x < w; x += dx) out.push(...rgb.subarray((y * w + x) * 3, (y * w + x) * 3 + 3));
      }
      return out;
    };
    const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;
    const interlaced = pngFile(w, h, deflateSync(Uint8Array.from(passes.flatMap(([x0, y0, dx, dy]) => rows(x0, y0, dx, dy)))), 1);
    const plain = pngFile(w, h, deflateSync(Uint8Array.from(rows(0, 0, 1, 1))));
    const a = await decodeImage(interlaced, 'adam7.png');
    const b = await decodeImage(plain, 'plain.png');
    expect([a.width, a.height]).toEqual([w, h]);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
  });

  it('PNG: a small interlaced image whose data inflates to 16 MB is refused while inflating (pngjs would inflate it whole)', async () => {
    const bomb = pngFile(2, 2, deflateSync(new Uint8Array(16 * 2 ** 20)), 1);
    expect(bomb.length).toBeLessThan(100_000);
    const t = performance.now();
    await expect(decodeImage(bomb, 'zip.png')).rejects.toThrow(/'zip\.png': corrupt PNG: the image data \(IDAT\) inflates to more than the 15 bytes a 2×2 image needs/);
    console.log(`2×2 interlaced PNG with 16 MB of image data refused in ${(performance.now() - t).toFixed(1)} ms`);
  });

  it('JPEG: cut short, a lost end-of-image marker, a broken segment length, too many scans; progressive accepted', async () => {
    await expect(decodeImage(jpeg.subarray(0, jpeg.length - 200), 'cut.jpg')).rejects.toThrow(/^image 'cut\.jpg': corrupt JPEG: truncated: the file ends at byte \d+ inside the image data \(no end-of-image marker\)/);
    await expect(decodeImage(jpeg.subarray(0, 100), 'head.jpg')).rejects.toThrow(/'head\.jpg': corrupt JPEG: truncated: marker 0xff\w+ at byte \d+ claims \d+ bytes/);
    const len = Uint8Array.from(jpeg);
    len[4] = 0; len[5] = 1; // APP0's length
    await expect(decodeImage(len, 'len.jpg')).rejects.toThrow(/'len\.jpg': corrupt JPEG: marker 0xffe0 at byte 2 has an invalid length 1/);
    // Thousands of empty scans (a progressive-JPEG CPU bomb) are refused before jpeg-js walks them.
    const sos = jpeg.findIndex((v, i) => v === 0xff && jpeg[i + 1] === 0xda);
    const sosLength = (jpeg[sos + 2]! << 8) | jpeg[sos + 3]!;
    const scan = jpeg.subarray(sos, sos + 2 + sosLength);
    const many = Uint8Array.from([...jpeg.subarray(0, sos), ...Array.from({ length: 501 }, () => [...scan]).flat(), ...jpeg.subarray(sos)]);
    await expect(decodeImage(many, 'scans.jpg')).rejects.toThrow(/'scans\.jpg': corrupt JPEG: more than 500 scans/);
    // A progressive JPEG (several scans, tables between them) passes the walk and decodes like libjpeg.
    const progressive = await decodeImage(new URL('../fuzz/fixtures/progressive_40x30.jpg', import.meta.url));
    const pil = await decodeImage(new URL('../fuzz/fixtures/progressive_40x30.pil.png', import.meta.url));
    let maxDiff = 0;
    for (let i = 0; i < pil.data.length; i++) if (i % 4 !== 3) maxDiff = Math.max(maxDiff, Math.abs(progressive.data[i]! - pil.data[i]!));
    console.log(`progressive JPEG 40×30: jpeg-js vs libjpeg (PIL) max difference ${maxDiff} levels`);
    expect([progressive.width, progressive.height]).toEqual([40, 30]);
    expect(maxDiff).toBeLessThanOrEqual(3);
    // Bytes after the end-of-image marker are ignored, as by libjpeg.
    expect((await decodeImage(Uint8Array.from([...jpeg, 1, 2, 3]), 'trailing.jpg')).width).toBe(48);
  });
});

describe('options and the CLI', () => {
  const gpu = useGpu();

  it('preprocess() takes maxImagePixels and checks images already decoded too', async () => {
    const decoded = await decodeImage(png, 'a.png');
    await expect(preprocess(gpu(), decoded, { maxImagePixels: 800 })).rejects.toThrow(/'a\.png': 37×23 is 851 pixels, more than the limit of 800/);
    await expect(preprocess(gpu(), png, { maxImagePixels: 800 })).rejects.toThrow(/'buffer': 37×23 is 851 pixels/);
    await expect(preprocess(gpu(), png, { maxImagePixels: -1 })).rejects.toThrow(/maxImagePixels must be a positive integer/);
  });

  it('InternViT.embed and imageTokens pass maxImagePixels on (refused before preprocessing compiles anything)', async () => {
    const vit = await InternViT.load(at('models/internvit-tiny'), { gpu: gpu() });
    try {
      const pipelines = gpu().counters.pipelinesCreated;
      await expect(vit.embed(png, { maxImagePixels: 850 })).rejects.toThrow(/^image 'buffer': 37×23 is 851 pixels, more than the limit of 850/);
      await expect(vit.embed(pngClaiming(30000, 30000))).rejects.toThrow(/30000×30000 is 900000000 pixels/);
      expect(gpu().counters.pipelinesCreated).toBe(pipelines);
    } finally {
      vit.dispose();
    }
  });

  it('internvit preprocess: the 30000×30000 PNG, --max-image-pixels, a truncated file: one line, exit 1 (2 for a bad flag)', async () => {
    const tmp = tempDir();
    const out = join(tmp, 'out.safetensors');
    const huge = join(tmp, 'huge.png');
    writeFileSync(huge, pngClaiming(30000, 30000));
    let r = await runCli(['preprocess', '--image', huge, '--output', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^internvit: image '.*huge\.png': 30000×30000 is 900000000 pixels, more than the limit of 178956970 .*--max-image-pixels/);
    expect(r.stderr.split('\n')).toHaveLength(1);

    const small = join(tmp, 'a.png');
    writeFileSync(small, png);
    r = await runCli(['preprocess', '--image', small, '--output', out, '--max-image-pixels', '850']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^internvit: image '.*a\.png': 37×23 is 851 pixels, more than the limit of 850/);

    r = await runCli(['preprocess', '--image', small, '--output', out, '--max-image-pixels', 'lots']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^internvit: --max-image-pixels must be an integer ≥ 1 \(got 'lots'\)/);

    const cut = join(tmp, 'cut.jpg');
    writeFileSync(cut, jpeg.subarray(0, 1000));
    r = await runCli(['preprocess', '--image', cut, '--output', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^internvit: image '.*cut\.jpg': corrupt JPEG: truncated/);
    expect(r.stderr.split('\n')).toHaveLength(1);
  });
});
