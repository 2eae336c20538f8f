// The app's own GPUDevice, GPU buffers in and out, and external images (canvas, OffscreenCanvas,
// ImageBitmap, VideoFrame through copyExternalImageToTexture) in headless Chromium: the page is
// test/browser/model-page/gpu-io.ts; this side prints its lines and fails on any problem.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardPageLog, openBrowser, type BrowserSession } from '../../scripts/chromium.js';
import type { GpuIoReport } from './model-page/gpu-io.js';
import { readPageReport } from './report-json.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const pagePath = 'test/browser/model-page/';

describe('bring your own device, GPU in and out, external images (headless Chromium)', () => {
  let session: BrowserSession | undefined;
  beforeAll(async () => {
    session = await openBrowser({
      vite: {
        configFile: false, root: repoRoot, appType: 'mpa', logLevel: 'warn',
        cacheDir: `${repoRoot}/node_modules/.vite-browser-model`,
        server: { fs: { allow: [repoRoot] } },
        optimizeDeps: { entries: [`${pagePath}index.html`] },
      },
      protocolTimeoutMs: 600_000,
    });
  }, 120_000);
  afterAll(() => session?.close());

  it("app's device: parity, dispose() leaves it usable; GPUBuffer in → caller-owned buffers out = host bits; canvas/ImageBitmap/VideoFrame = host bytes, no CPU readback", async () => {
    const page = await session!.browser.newPage();
    const lines: string[] = [];
    forwardPageLog(page, (line) => lines.push(line), {
      ignoreRequest: (r) => r.method() === 'HEAD' && r.failure()?.errorText === 'net::ERR_ABORTED',
    });
    await page.goto(`${session!.url}/${pagePath}?gpuio=model/ragged-47x61`, { waitUntil: 'load' });
    await page.waitForFunction(() => window.__internvitGpuIo?.done === true, { timeout: 400_000, polling: 500 });
    const r = await readPageReport<GpuIoReport>(page, '__internvitGpuIo');
    await page.close();
    console.log(`${lines.join('\n')}\n${r.adapter ?? 'no adapter'}\n${r.lines.join('\n')}\nexternal inputs matching the host path: ${r.external.join(', ')}`);
    expect(r.error).toBeUndefined();
    expect(r.problems).toEqual([]);
    expect(r.external).toEqual(['HTMLCanvasElement', 'OffscreenCanvas', 'ImageBitmap', 'VideoFrame']);
  }, 500_000);
});
