// The embed demo page in headless Chromium (WebGPU; SwiftShader on CPU-only machines): the page's own
// Vite config serves it with /models, it runs ?demo=1 on sample.png (400×200 → InternVL 2×1 tiles +
// thumbnail with maxTiles=2, the default tiny model), and the PCA picture is checked not to be blank
// from a screenshot of its canvas.
//
// Environment: see scripts/chromium.ts (INTERNVIT_GPU, INTERNVIT_BROWSER_FLAGS, INTERNVIT_CHROMIUM), and
//   INTERNVIT_SCREENSHOT_DIR=/dir   also save the page and PCA screenshots there
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardPageLog, openBrowser, type BrowserSession } from '../../scripts/chromium.js';
import type { EmbedPageState } from './main.js';

const configFile = fileURLToPath(new URL('./vite.config.ts', import.meta.url));
const timeoutS = 150;

describe('embed demo page in headless Chromium', () => {
  let session: BrowserSession | undefined;

  beforeAll(async () => {
    session = await openBrowser({ vite: { configFile, logLevel: 'warn' }, protocolTimeoutMs: (timeoutS + 60) * 1000 });
  }, 120_000);

  afterAll(() => session?.close());

  it('embeds the sample image and draws tiles, timings and a non-blank PCA picture', async () => {
    const page = await session!.browser.newPage();
    await page.setViewport({ width: 1200, height: 1400 });
    const log: string[] = [];
    forwardPageLog(page, (line) => log.push(line));

    const t0 = Date.now();
    await page.goto(`${session!.url}/?demo=1&mode=internvl&maxTiles=2`, { waitUntil: 'load' });
    try {
      await page.waitForFunction(() => window.__embedPage?.done === true, { timeout: timeoutS * 1000, polling: 250 });
    } catch (e) {
      throw new Error(`the page did not finish in ${timeoutS} s: ${(e as Error).message}\n${log.join('\n')}`);
    }
    const seconds = (Date.now() - t0) / 1000;
    const state = await page.evaluate(() => JSON.parse(JSON.stringify(window.__embedPage)) as EmbedPageState);
    const text = await page.evaluate(() => ({
      timings: document.getElementById('timings')!.innerText,
      tileCount: document.getElementById('tile-count')!.innerText,
      adapter: document.getElementById('adapter')!.innerText,
      tileCanvases: document.querySelectorAll('#tiles canvas').length,
      thumbCanvases: document.querySelectorAll('#thumb-tile canvas').length,
    }));
    console.log(`${text.adapter}\n${text.tileCount}\n${text.timings}\npage finished in ${seconds.toFixed(1)} s`);
    expect(state.error, log.join('\n')).toBeUndefined();

    // 400×200 with maxTiles 2: a 2×1 grid plus the thumbnail.
    expect(state.tiles).toBe(3);
    expect(state.grid).toEqual({ cols: 2, rows: 1 });
    expect(text.tileCount).toMatch(/^\(3 tiles: 2×1 grid \+ thumbnail, 224×224 px\)$/);
    expect([text.tileCanvases, text.thumbCanvases]).toEqual([2, 1]);
    for (const row of [/load .*\d+(\.\d+)? (ms|s)/, /first run .*\d+(\.\d+)? (ms|s)/, /second run .*\d+(\.\d+)? (ms|s)/, /PCA .*\d+(\.\d+)? (ms|s)/]) {
      expect(text.timings).toMatch(row);
    }
    for (const k of ['load', 'first', 'second', 'pca']) expect(state.timings?.[k], k).toBeGreaterThan(0);
    expect(text.adapter).toMatch(/InternViT: 4 layers, hidden 128/);

    // The PCA picture: the 2×1 grid of 16×16 patches at 14 px, read back as the screen shows it.
    const pcaElement = (await page.$('#pca'))!;
    const box = (await pcaElement.boundingBox())!;
    const shot = await page.screenshot({ clip: { x: box.x + 1, y: box.y + 1, width: 448, height: 224 } }); // inside the 1 px border
    const png = PNG.sync.read(Buffer.from(shot));
    expect([png.width, png.height]).toEqual([448, 224]);
    const colours = new Set<number>();
    const sum = [0, 0, 0];
    const sq = [0, 0, 0];
    const n = png.width * png.height;
    for (let i = 0; i < n; i++) {
      const [r, g, b] = [png.data[i * 4]!, png.data[i * 4 + 1]!, png.data[i * 4 + 2]!];
      colours.add((r << 16) | (g << 8) | b);
      [r, g, b].forEach((v, c) => { sum[c]! += v; sq[c]! += v * v; });
    }
    const std = sum.map((s, c) => Math.sqrt(Math.max(0, sq[c]! / n - (s / n) ** 2)));
    console.log(`PCA screenshot ${png.width}×${png.height}: ${colours.size} distinct colours, channel std ${std.map((v) => v.toFixed(1)).join(' / ')}`);
    // 512 patches, each one colour: a real picture has hundreds of distinct colours and spread in every channel.
    expect(colours.size).toBeGreaterThan(100);
    for (const s of std) expect(s).toBeGreaterThan(20);

    const dir = process.env.INTERNVIT_SCREENSHOT_DIR;
    if (dir) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'embed-page-pca.png'), shot);
      writeFileSync(join(dir, 'embed-page.png'), await page.screenshot({ fullPage: true }));
      console.log(`screenshots in ${dir}`);
    }
    await page.close();
  }, (timeoutS + 60) * 1000);
});
