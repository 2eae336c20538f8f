// The weight cache, abort and the Web Worker path in headless Chromium (real Cache Storage, real
// fetch): the Vite dev server serves test/fixtures/model under /served/{range,norange,stall}/ through
// the Node tests' request-counting handler (test/runtime/checkpoint-helpers.ts), so every weight
// byte the page fetches is counted on this side. The page (test/browser/cache-page) exposes each
// step as a function; the steps share one page and run in order.
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import type { Page } from 'puppeteer-core';
import type { Plugin } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardPageLog, isAbortedHead, openBrowser, type BrowserSession } from '../../scripts/chromium.js';
import { folderHandler, type FolderHandler } from '../runtime/checkpoint-helpers.js';
import type { LoadReport, WorkerReport } from './cache-page/main.js';
import { repoPageVite } from './run-page.js';

const fixtures = fileURLToPath(new URL('../fixtures/model', import.meta.url));
const pagePath = 'test/browser/cache-page/';
const FIXTURE = 'ragged-47x61';
const fileBytes = readFileSync(`${fixtures}/${FIXTURE}/model.safetensors`).byteLength;
const configBytes = readFileSync(`${fixtures}/${FIXTURE}/config.json`).byteLength;

const served: Record<string, FolderHandler> = {
  range: folderHandler(fixtures, { etag: true }),
  norange: folderHandler(fixtures, { range: false }),
  stall: folderHandler(fixtures, { range: false, stallAfterBytes: 16 * 1024 }),
};

/** /served/{kind}/… answered by the counting handlers, before Vite's own middlewares. */
const countingServer: Plugin = {
  name: 'counting-weight-server',
  configureServer(server) {
    server.middlewares.use('/served', (req, res, next) => {
      const m = req.url?.match(/^\/(range|norange|stall)(\/.*)$/);
      if (!m) return next();
      req.url = m[2];
      served[m[1]!]!.handle(req, res);
    });
  },
};

const weightGets = (h: FolderHandler) => h.requests.filter((r) => r.method === 'GET' && r.path.endsWith('.safetensors')).length;

describe('weight cache, abort and worker in headless Chromium', () => {
  let session: BrowserSession;
  let page: Page;
  const lines: string[] = [];
  let url: string;
  let firstDigest: string | undefined;

  const call = <T>(fn: string, ...args: unknown[]): Promise<T> =>
    page.evaluate((name, a) => (window.__cachePage as unknown as Record<string, (...x: unknown[]) => Promise<unknown>>)[name]!(...a), fn, args) as Promise<T>;
  const ready = () => page.waitForFunction(() => window.__cachePage?.ready === true, { timeout: 60_000 });

  beforeAll(async () => {
    session = await openBrowser({
      vite: repoPageVite(pagePath, 'cache', { plugins: [countingServer] }),
      protocolTimeoutMs: 300_000,
    });
    page = await session.browser.newPage();
    forwardPageLog(page, (l) => lines.push(l), { ignoreRequest: isAbortedHead });
    await page.goto(`${session.url}/${pagePath}`, { waitUntil: 'load' });
    await ready();
    url = `${session.url}/served/range/${FIXTURE}/`;
  }, 180_000);
  afterAll(async () => {
    if (lines.length) console.log(lines.join('\n'));
    await session?.close();
  });

  it('first load: weights from the network, stored; cachedModels lists the model and its size', async () => {
    expect(await call('clearCache')).toBeGreaterThanOrEqual(0);
    const sent = served.range!.weightBytesSent();
    const r = await call<LoadReport>('load', url);
    console.log(`first load: ${JSON.stringify(r.weights)}, ${served.range!.weightBytesSent() - sent} weight bytes sent`);
    expect(r.error).toBeUndefined();
    expect(r.weights!.bytesFromNetwork).toBe(r.weights!.bytesTotal);
    expect(r.weights!.bytesFromCache).toBe(0);
    expect(served.range!.weightBytesSent() - sent).toBe(fileBytes);
    expect(r.bytesLiveAfterDispose).toBe(0);
    firstDigest = r.digest;
    const models = await call<{ model: string; bytes: number; files: { url: string; bytes: number }[] }[]>('cachedModels');
    expect(models.map((m) => [m.model, m.bytes, m.files.map((f) => [f.url.slice(url.length), f.bytes])])).toEqual([
      [url, fileBytes + configBytes, [['config.json', configBytes], ['model.safetensors', fileBytes]]],
    ]);
  }, 120_000);

  it('after a page reload, the same load fetches no weight byte and uploads the same weights', async () => {
    await page.reload({ waitUntil: 'load' });
    await ready();
    const gets = weightGets(served.range!);
    const sent = served.range!.weightBytesSent();
    const before = served.range!.requests.length;
    const r = await call<LoadReport>('load', url);
    console.log(`after reload: ${JSON.stringify(r.weights)}, requests: ${JSON.stringify(served.range!.requests.slice(before))}`);
    expect(r.error).toBeUndefined();
    expect(r.weights!.bytesFromCache).toBe(r.weights!.bytesTotal);
    expect(r.weights!.bytesFromNetwork).toBe(0);
    expect(served.range!.weightBytesSent() - sent).toBe(0);
    expect(weightGets(served.range!)).toBe(gets);
    expect(served.range!.requests.length).toBe(before); // config.json came from the cache too
    expect(r.digest).toBe(firstDigest);
  }, 120_000);

  it('a truncated cache entry is discarded with a warning, fetched again, and whole afterwards', async () => {
    expect(await call('truncateEntry', `${url}model.safetensors`, 1000)).toBe(fileBytes);
    const sent = served.range!.weightBytesSent();
    const r = await call<LoadReport>('load', url);
    expect(r.error).toBeUndefined();
    expect(r.warnings.join('\n')).toMatch(/model\.safetensors: the cached copy has 1000 bytes, \d+ were recorded: discarded, fetching it again/);
    expect(r.weights!.bytesFromNetwork).toBe(r.weights!.bytesTotal);
    expect(served.range!.weightBytesSent() - sent).toBe(fileBytes);
    expect(r.digest).toBe(firstDigest);
    const again = await call<LoadReport>('load', url);
    expect(again.weights!.bytesFromCache).toBe(again.weights!.bytesTotal);
  }, 120_000);

  it('abort mid-download: AbortError, no GPU bytes left, no cache entry', async () => {
    expect(await call('clearCache')).toBe(2);
    const t0 = Date.now();
    const r = await call<LoadReport>('load', `${session.url}/served/stall/${FIXTURE}/`, { abortAfterMs: 300 });
    console.log(`abort: ${r.error} after ${Date.now() - t0} ms`);
    expect(r.error).toMatch(/^AbortError: /);
    expect(Date.now() - t0).toBeLessThan(5000); // the server stalls for 20 s
    expect(r.bytesLiveAfterDispose).toBe(0);
    expect(await call('cacheKeys')).toEqual([]);
    expect(await call('cachedModels')).toEqual([]);
  }, 120_000);

  it('clearCache() empties it; the next load fetches in full', async () => {
    await call<LoadReport>('load', url);
    expect((await call<unknown[]>('cachedModels')).length).toBe(1);
    expect(await call('clearCache')).toBe(2);
    expect(await call('cachedModels')).toEqual([]);
    const sent = served.range!.weightBytesSent();
    const r = await call<LoadReport>('load', url);
    expect(r.weights!.bytesFromNetwork).toBe(r.weights!.bytesTotal);
    expect(served.range!.weightBytesSent() - sent).toBe(fileBytes);
  }, 120_000);

  it("a full quota (Chromium's real quota, lowered over CDP): the load succeeds from the network with a warning, the weights are not stored", async () => {
    expect(await call('clearCache')).toBeGreaterThanOrEqual(0);
    const cdp = await page.createCDPSession();
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: session.url, quotaSize: 40 * 1024 });
    try {
      const r = await call<LoadReport>('load', url);
      console.log(`quota: ${r.error ?? 'loaded'}; ${r.warnings.join(' | ')}`);
      expect(r.error).toBeUndefined();
      expect(r.digest).toBe(firstDigest);
      expect(r.warnings.join('\n')).toMatch(/model\.safetensors: not cached \(.*\); this load goes on from the network/);
      expect((await call<string[]>('cacheKeys')).filter((k) => k.endsWith('.safetensors'))).toEqual([]);
    } finally {
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: session.url });
      await cdp.detach();
    }
    expect(await call('clearCache')).toBeGreaterThanOrEqual(0);
  }, 120_000);

  it('a server without Range support: one GET of the weights, with and without the cache', async () => {
    const h = served.norange!;
    const before = weightGets(h);
    const noCache = await call<LoadReport>('load', `${session.url}/served/norange/${FIXTURE}/`, { cache: false });
    expect(noCache.error).toBeUndefined();
    expect(weightGets(h) - before).toBe(1);
    const cached = await call<LoadReport>('load', `${session.url}/served/norange/${FIXTURE}/`);
    expect(cached.error).toBeUndefined();
    expect(weightGets(h) - before).toBe(2);
    expect(noCache.digest).toBe(firstDigest);
    expect(cached.digest).toBe(firstDigest);
  }, 120_000);

  it('createWorkerModel: the model runs in a Web Worker, outputs match PyTorch, the main thread keeps ticking; abort reaches the worker', async () => {
    const r = await call<WorkerReport>('inWorker', url, `${session.url}/served/stall/${FIXTURE}/`);
    console.log(`worker: WebGPU in a dedicated worker: ${r.webgpuInWorker}; ${r.progressReports} progress reports; ` +
      `${(r.outputs ?? []).join('; ')}; worst ${((r.worstRatio ?? NaN) * 100).toFixed(1)}% of tolerance; ` +
      `longest main-thread gap ${r.longestMainThreadGapMs.toFixed(0)} ms; aborted load: ${r.abortError}`);
    expect(r.error).toBeUndefined();
    expect(r.webgpuInWorker).toBe(true);
    expect(r.progressReports).toBeGreaterThan(0);
    expect(r.outputs!.length).toBe(2);
    expect(r.worstRatio!).toBeLessThanOrEqual(1);
    expect(r.pixelsDetached).toBe(true);
    expect(r.secondCallIdentical).toBe(true);
    expect(r.abortError).toMatch(/^AbortError: /);
    // Pipeline compilation and the forward run in the worker: the page's timer is never held for long.
    expect(r.longestMainThreadGapMs).toBeLessThan(1000); // generous: the 2-core CI machine delays timers under load
  }, 300_000);
});
