// The embed demo's webcam mode in headless Chromium: with Chromium's fake camera
// (--use-fake-device-for-media-stream) frames are embedded from the <video> with no getImageData
// (they go to the GPU by copyExternalImageToTexture); without a camera the page says so.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserFlags, forwardPageLog, openBrowser, type BrowserSession } from '../../scripts/chromium.js';
import type { EmbedPageState } from './main.js';

const configFile = fileURLToPath(new URL('./vite.config.ts', import.meta.url));
const timeoutS = 240;

/** Counts getImageData calls in the page (set before its scripts run). */
function countReadbacks(): void {
  const w = window as unknown as { __readbacks: number };
  w.__readbacks = 0;
  for (const p of [CanvasRenderingContext2D.prototype, OffscreenCanvasRenderingContext2D.prototype]) {
    const original = p.getImageData;
    p.getImageData = function (this: CanvasRenderingContext2D, ...args: Parameters<CanvasRenderingContext2D['getImageData']>) {
      w.__readbacks++;
      return original.apply(this, args);
    } as typeof p.getImageData;
  }
}

describe('embed demo webcam mode in headless Chromium', () => {
  let session: BrowserSession | undefined;
  beforeAll(async () => {
    const flags = [...(await browserFlags()), '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];
    session = await openBrowser({ vite: { configFile, logLevel: 'warn' }, protocolTimeoutMs: (timeoutS + 60) * 1000, flags });
  }, 120_000);
  afterAll(() => session?.close());

  it('embeds fake-camera frames on the GPU (no getImageData), cosine to the first frame shown', async () => {
    const page = await session!.browser.newPage();
    const log: string[] = [];
    forwardPageLog(page, (line) => log.push(line));
    await page.evaluateOnNewDocument(countReadbacks);
    await page.goto(`${session!.url}/?webcam=1`, { waitUntil: 'load' });
    await page.waitForFunction(() => (window.__embedPage?.webcam?.frames ?? 0) >= 2 || !!window.__embedPage?.webcam?.error || !!window.__embedPage?.webcam?.unavailable || !!window.__embedPage?.error,
      { timeout: timeoutS * 1000, polling: 250 });
    const state = await page.evaluate(() => JSON.parse(JSON.stringify(window.__embedPage)) as EmbedPageState);
    const readbacks = await page.evaluate(() => (window as unknown as { __readbacks: number }).__readbacks);
    const status = await page.evaluate(() => document.getElementById('webcam-status')!.textContent);
    await page.evaluate(() => document.getElementById('webcam-start')!.click()); // stop
    await page.close();
    console.log(`${log.join('\n')}\nwebcam: ${status}; getImageData calls: ${readbacks}`);
    expect(state.error).toBeUndefined();
    expect(state.webcam?.error).toBeUndefined();
    expect(state.webcam?.unavailable).toBeUndefined();
    expect(state.webcam!.frames).toBeGreaterThanOrEqual(2);
    expect(state.webcam!.similarity).toBeGreaterThan(0.5);
    expect(state.webcam!.similarity).toBeLessThanOrEqual(1 + 1e-9);
    expect(readbacks).toBe(0);
    expect(status).toMatch(/^frame \d+: \d+ ms; cosine to the reference frame [\d.]+$/);
  }, (timeoutS + 60) * 1000);

  it('says there is no camera when getUserMedia finds none', async () => {
    const page = await session!.browser.newPage();
    await page.evaluateOnNewDocument(() => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Requested device not found', 'NotFoundError'));
    });
    await page.goto(`${session!.url}/?webcam=1`, { waitUntil: 'load' });
    await page.waitForFunction(() => !!window.__embedPage?.webcam?.unavailable, { timeout: 60_000, polling: 250 });
    const status = await page.evaluate(() => document.getElementById('webcam-status')!.textContent);
    await page.close();
    console.log(`no camera: ${status}`);
    expect(status).toBe('no camera found: connect one and press the button again');
  }, 90_000);
});
