// Resize vs Pillow itself: the sha1 of Pillow's RGB bytes for 80 (source, size) pairs
// (reference/make_preprocess_fixtures.py), checked against both the CPU reference and the GPU
// kernels; then the random GPU-vs-reference checks shared with the browser page.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resizeBicubic, resizeBicubicReference } from '../../src/kernels/resize.js';
import { decodeImage } from '../../src/model/image.js';
import { runOnce } from '../../src/runtime/run-once.js';
import { checks } from '../../src/kernels/resize.check.js';
import { runChecks, useGpu } from '../node-gpu.js';

const dir = new URL('../fixtures/preprocess/', import.meta.url);
const sweep = JSON.parse(readFileSync(new URL('resize-sweep.json', dir), 'utf8')) as {
  pillow: string; cases: { source: string; width: number; height: number; sha1: string }[];
};

function rgbSha1(rgba: Uint8Array): string {
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i]!; rgb[j + 1] = rgba[i + 1]!; rgb[j + 2] = rgba[i + 2]!;
  }
  return createHash('sha1').update(rgb).digest('hex');
}

async function source(name: string) {
  return decodeImage(new URL(`sources/${name}`, dir));
}

describe(`bicubic resize vs Pillow ${sweep.pillow} (byte-exact)`, () => {
  it(`CPU reference equals Pillow on ${sweep.cases.length} sizes`, async () => {
    const bad: string[] = [];
    for (const c of sweep.cases) {
      const img = await source(c.source);
      const got = rgbSha1(resizeBicubicReference(img.data, img.width, img.height, c.width, c.height));
      if (got !== c.sha1) bad.push(`${c.source} → ${c.width}×${c.height}`);
    }
    console.log(`CPU reference: ${sweep.cases.length - bad.length}/${sweep.cases.length} sizes byte-identical to Pillow`);
    expect(bad).toEqual([]);
  });

  const gpu = useGpu();
  it(`GPU kernels equal Pillow on ${sweep.cases.length} sizes`, async () => {
    const bad: string[] = [];
    for (const c of sweep.cases) {
      const img = await source(c.source);
      const out = await runOnce(gpu(), { image: { data: new Uint32Array(img.data.slice().buffer), shape: [img.height, img.width], dtype: 'u32' } },
        (plan, { image }) => ({ y: resizeBicubic(plan, image!, c.width, c.height) }));
      const y = out.y as Uint32Array;
      const bytes = new Uint8Array(y.buffer, y.byteOffset, y.byteLength);
      if (rgbSha1(bytes) !== c.sha1) {
        const ref = resizeBicubicReference(img.data, img.width, img.height, c.width, c.height);
        let diff = 0;
        for (let i = 0; i < ref.length; i++) if (i % 4 !== 3 && ref[i] !== bytes[i]) diff++;
        bad.push(`${c.source} → ${c.width}×${c.height} (${diff} bytes differ from the CPU reference)`);
      }
    }
    console.log(`GPU: ${sweep.cases.length - bad.length}/${sweep.cases.length} sizes byte-identical to Pillow`);
    expect(bad).toEqual([]);
  }, 120_000);
});

describe('resize / normalize / plans on the GPU vs CPU references (random images)', () => runChecks(checks));
