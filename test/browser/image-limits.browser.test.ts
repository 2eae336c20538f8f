// decodeImage's browser path in headless Chromium (test/browser/image-page): images above the pixel
// limit are refused from their header (PNG, JPEG, WebP, GIF; bytes and Blobs) or their known size
// (HTMLImageElement, ImageBitmap, OffscreenCanvas) before the browser decodes or draws them, and
// truncated PNG/JPEG files are refused with a message naming the file, as in Node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBrowser, type BrowserSession } from '../../scripts/chromium.js';
import type { ImagePageReport } from './image-page/main.js';
import { repoPageVite, runPage } from './run-page.js';

const pagePath = 'test/browser/image-page/';

describe('untrusted images in headless Chromium', () => {
  let session: BrowserSession | undefined;
  beforeAll(async () => {
    session = await openBrowser({ vite: repoPageVite(pagePath, 'images'), protocolTimeoutMs: 120_000 });
  }, 120_000);
  afterAll(() => session?.close());

  it('refuses by header or known size before decoding, and names truncated files', async () => {
    const { report, lines } = await runPage<ImagePageReport>(session!, pagePath, '__internvitImages', { timeoutMs: 60_000, polling: 200 });
    const byName = new Map(report.results.map((r) => [r.name, r]));
    console.log([...lines, ...report.results.map((r) => `${r.ok ? 'decoded' : 'refused'} ${r.name} (${r.ms.toFixed(1)} ms): ${r.message}`)].join('\n'));
    expect(report.error).toBeUndefined();

    const expectations: [string, RegExp | 'ok'][] = [
      ['valid.png', 'ok'],
      ['valid.jpg', 'ok'],
      ['huge.png', /^image 'huge\.png': 30000×30000 is 900000000 pixels, more than the limit of 178956970/],
      ['huge-blob.png', /^image 'huge-blob\.png': 30000×30000 is 900000000 pixels/],
      ['huge.jpg', /^image 'huge\.jpg': 30000×30000 is 900000000 pixels/],
      ['huge.webp', /^image 'huge\.webp': 16384×16384 is 268435456 pixels/],
      ['huge.gif', /^image 'huge\.gif': 65535×65535 is 4294836225 pixels/],
      ['cut.png', /^image 'cut\.png': corrupt PNG: truncated/],
      ['cut.jpg', /^image 'cut\.jpg': corrupt JPEG: truncated/],
      ['limit.png', /^image 'limit\.png': 64×48 is 3072 pixels, more than the limit of 3071/],
      ['element.png', /^image 'element\.png': 64×48 is 3072 pixels, more than the limit of 3071/],
      ['element-ok.png', 'ok'],
      ['bitmap.png', /^image 'bitmap\.png': 64×48 is 3072 pixels/],
      ['canvas', /^image 'canvas': 2000×2000 is 4000000 pixels, more than the limit of 1000000/],
    ];
    for (const [name, want] of expectations) {
      const r = byName.get(name);
      expect(r, `${name} did not run`).toBeDefined();
      if (want === 'ok') expect(r!.ok, `${name}: ${r!.message}`).toBe(true);
      else expect(r!.message, name).toMatch(want);
    }
    expect(byName.get('valid.png')!.message).toBe('64×48, 12288 bytes');
    for (const name of ['huge.png', 'huge.jpg', 'huge.webp']) expect(byName.get(name)!.ms, `${name}: refused from the header`).toBeLessThan(100);
    expect(report.results.length).toBe(expectations.length);
  }, 180_000);
});
