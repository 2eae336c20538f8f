// The demo page's similarity view ("click a point, see what belongs with it") in headless Chromium:
// examples/embed-page runs ?demo=1 on sample.png (400×200 → InternVL 2×1 + thumbnail, the tiny model),
// then a click on the view; the screenshot of its canvas must be the image's size, the clicked cell the
// top of the colour ramp (a cell is most similar to itself), and the rest a real spread of colours.
//
// Environment: see scripts/chromium.ts; INTERNVIT_SCREENSHOT_DIR=/dir also saves the screenshot.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardPageLog, openBrowser, type BrowserSession } from '../../scripts/chromium.js';
import type { EmbedPageState } from '../../examples/embed-page/main.js';

const configFile = fileURLToPath(new URL('../../examples/embed-page/vite.config.ts', import.meta.url));
const timeoutS = 150;

describe('demo page similarity view in headless Chromium', () => {
  let session: BrowserSession | undefined;

  beforeAll(async () => {
    session = await openBrowser({ vite: { configFile, logLevel: 'warn' }, protocolTimeoutMs: (timeoutS + 60) * 1000 });
  }, 120_000);

  afterAll(() => session?.close());

  it('a click recolours the view by similarity to the clicked patch, at the image size', async () => {
    const page = await session!.browser.newPage();
    await page.setViewport({ width: 1200, height: 1600 });
    const log: string[] = [];
    forwardPageLog(page, (line) => log.push(line));
    await page.goto(`${session!.url}/?demo=1&mode=internvl&maxTiles=2`, { waitUntil: 'load' });
    try {
      await page.waitForFunction(() => window.__embedPage?.done === true, { timeout: timeoutS * 1000, polling: 250 });
    } catch (e) {
      throw new Error(`the page did not finish in ${timeoutS} s: ${(e as Error).message}\n${log.join('\n')}`);
    }
    const first = await page.evaluate(() => JSON.parse(JSON.stringify(window.__embedPage)) as EmbedPageState);
    expect(first.error, log.join('\n')).toBeUndefined();
    // The stitched map of a 2×1 grid of 16×16-patch tiles; the first view is for the image's centre.
    expect(first.similarity).toMatchObject({ rows: 16, cols: 32, pixel: [200, 100], cell: { y: 8, x: 16 }, queries: 1 });

    const canvas = (await page.$('#similarity'))!;
    await canvas.scrollIntoView(); // the page is taller than the viewport (webcam section below)
    const box = (await canvas.boundingBox())!;
    expect([Math.round(box.width), Math.round(box.height)]).toEqual([402, 202]); // 400×200 + the 1 px border
    // Image pixel (56, 156), the middle of cell (12, 4) (400 px over 32 cells: 12.5 px each, so the
    // cell spans x 50..62, y 150..162). Aim at a cell's middle, not its edge: box.y is fractional and
    // Chromium may truncate the event's coordinates to whole pixels.
    await page.mouse.click(box.x + 1 + 56.5, box.y + 1 + 156.5);
    await page.waitForFunction(() => window.__embedPage.similarity?.queries === 2, { timeout: 10_000 });
    const after = await page.evaluate(() => JSON.parse(JSON.stringify(window.__embedPage.similarity)) as EmbedPageState['similarity']);
    expect(after).toMatchObject({ cell: { y: 12, x: 4 } });
    const [px, py] = after!.pixel;
    expect(Math.abs(px - 56) <= 1 && Math.abs(py - 156) <= 1, `clicked pixel ${px},${py}`).toBe(true);

    // The clip is in page coordinates, the box in viewport coordinates: add the scroll offset.
    const [sx, sy] = await page.evaluate(() => [window.scrollX, window.scrollY]);
    const shot = await page.screenshot({ clip: { x: box.x + sx + 1, y: box.y + sy + 1, width: 400, height: 200 } });
    const png = PNG.sync.read(Buffer.from(shot));
    expect([png.width, png.height]).toEqual([400, 200]);
    const at = (x: number, y: number) => Array.from(png.data.subarray((y * 400 + x) * 4, (y * 400 + x) * 4 + 3));
    // Every pixel of the clicked cell (x 50..62, y 150..162) is the ramp's top colour.
    for (const [x, y] of [[50, 150], [51, 151], [61, 161], [56, 155]] as const) expect(at(x, y), `${x},${y}`).toEqual([253, 231, 37]);
    const colours = new Set<string>();
    for (let y = 0; y < 200; y += 7) for (let x = 0; x < 400; x += 7) colours.add(at(x, y).join());
    console.log(`similarity screenshot 400×200: ${colours.size} distinct colours on a 7 px lattice; ${log.length} page log lines`);
    expect(colours.size).toBeGreaterThan(50);

    const dir = process.env.INTERNVIT_SCREENSHOT_DIR;
    if (dir) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'similarity-view.png'), shot);
    }
    await page.close();
  }, (timeoutS + 60) * 1000);
});
