// Runs decodeImage's browser path on hostile and valid inputs and leaves the outcomes in
// window.__internvitImages for test/browser/image-limits.browser.test.ts to check.
import { decodeImage, type ImageInput } from '../../../src/model/image.js';
import { pngClaiming } from '../../fuzz/png-bytes.js';

export interface ImageCaseResult { name: string; ok: boolean; message: string; ms: number }
export interface ImagePageReport { done: boolean; results: ImageCaseResult[]; error?: string }

declare global {
  interface Window { __internvitImages?: ImagePageReport }
}

const report: ImagePageReport = { done: false, results: [] };
window.__internvitImages = report;
const out = document.getElementById('results')!;

async function run(name: string, input: () => ImageInput | Promise<ImageInput>, maxImagePixels?: number): Promise<void> {
  const t = performance.now();
  let r: ImageCaseResult;
  try {
    const d = await decodeImage(await input(), name, { maxImagePixels });
    r = { name, ok: true, message: `${d.width}×${d.height}, ${d.data.length} bytes`, ms: performance.now() - t };
  } catch (e) {
    r = { name, ok: false, message: e instanceof Error ? e.message : `non-Error: ${String(e)}`, ms: performance.now() - t };
  }
  report.results.push(r);
  out.textContent += `${r.ok ? 'decoded' : 'refused'} ${name} (${r.ms.toFixed(1)} ms): ${r.message}\n`;
}

const source = async (file: string) => new Uint8Array(await (await fetch(`/test/fixtures/preprocess/sources/${file}`)).arrayBuffer());

/** A JPEG whose frame header claims width × height. */
function jpegClaiming(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  const b = Uint8Array.from(jpeg);
  const sof = b.findIndex((v, i) => v === 0xff && b[i + 1] === 0xc0);
  b.set([height >> 8, height & 255, width >> 8, width & 255], sof + 5);
  return b;
}

/** RIFF/WEBP with a VP8L header claiming 16384 × 16384 (no image data follows). */
function webpClaiming(): Uint8Array {
  const b = new Uint8Array(40);
  b.set(new TextEncoder().encode('RIFF'), 0);
  new DataView(b.buffer).setUint32(4, 32, true);
  b.set(new TextEncoder().encode('WEBPVP8L'), 8);
  new DataView(b.buffer).setUint32(16, 20, true);
  b[20] = 0x2f;
  const bits = (16384 - 1) | ((16384 - 1) << 14);
  new DataView(b.buffer).setUint32(21, bits, true);
  return b;
}

async function main(): Promise<void> {
  const png = await source('b_64x48.png');
  const jpeg = await source('jpeg_48x40.jpg');
  await run('valid.png', () => png);
  await run('valid.jpg', () => jpeg);
  await run('huge.png', () => pngClaiming(30000, 30000));
  await run('huge-blob.png', () => new Blob([pngClaiming(30000, 30000) as BlobPart]));
  await run('huge.jpg', () => jpegClaiming(jpeg, 30000, 30000));
  await run('huge.webp', () => webpClaiming());
  await run('huge.gif', () => Uint8Array.from([...new TextEncoder().encode('GIF89a'), 0xff, 0xff, 0xff, 0xff, 0, 0, 0]));
  await run('cut.png', () => png.subarray(0, png.length >> 1));
  await run('cut.jpg', () => jpeg.subarray(0, jpeg.length - 200));
  await run('limit.png', () => png, 3071);
  const img = new Image();
  img.src = '/test/fixtures/preprocess/sources/b_64x48.png';
  await img.decode();
  await run('element.png', () => img, 3071);
  await run('element-ok.png', () => img, 3072);
  await run('bitmap.png', () => createImageBitmap(new Blob([png as BlobPart])), 3071);
  await run('canvas', () => new OffscreenCanvas(2000, 2000), 1_000_000);
}

main().catch((e) => { report.error = e instanceof Error ? e.message : String(e); }).finally(() => { report.done = true; });
