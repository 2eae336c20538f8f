// The app's own GPUDevice, GPU buffers in and out, and external images (canvas, OffscreenCanvas,
// ImageBitmap, VideoFrame through copyExternalImageToTexture) in headless Chromium: the page is
// test/browser/model-page/gpu-io.ts; this side prints its lines and fails on any problem.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBrowser, type BrowserSession } from '../../scripts/chromium.js';
import type { GpuIoReport } from './model-page/gpu-io.js';
import { repoPageVite, runPage } from './run-page.js';

const pagePath = 'test/browser/model-page/';

describe('bring your own device, GPU in and out, external images (headless Chromium)', () => {
  let session: BrowserSession | undefined;
  beforeAll(async () => {
    session = await openBrowser({ vite: repoPageVite(pagePath, 'model'), protocolTimeoutMs: 600_000 });
  }, 120_000);
  afterAll(() => session?.close());

  it("app's device: parity, dispose() leaves it usable; GPUBuffer in → caller-owned buffers out = host bits; canvas/ImageBitmap/VideoFrame = host bytes, no CPU readback", async () => {
    const { report: r, lines } = await runPage<GpuIoReport>(session!, `${pagePath}?gpuio=model/ragged-47x61`, '__internvitGpuIo', { timeoutMs: 400_000 });
    console.log(`${lines.join('\n')}\n${r.adapter ?? 'no adapter'}\n${r.lines.join('\n')}\nexternal inputs matching the host path: ${r.external.join(', ')}`);
    expect(r.error).toBeUndefined();
    expect(r.problems).toEqual([]);
    expect(r.external).toEqual(['HTMLCanvasElement', 'OffscreenCanvas', 'ImageBitmap', 'VideoFrame']);
  }, 500_000);
});
