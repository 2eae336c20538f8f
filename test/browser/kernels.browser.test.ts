// Runs every kernel check (test/checks/*.ts) in headless Chromium: a Vite dev server serves
// test/browser/page on 127.0.0.1 (navigator.gpu needs a secure context), Puppeteer drives Debian's
// /usr/bin/chromium, and the page publishes its results on window.__internvitChecks.
//
// Environment:
//   INTERNVIT_GPU=1|0             hardware GPU flags / SwiftShader flags (default: SwiftShader unless
//                                 Dawn in Node finds a hardware adapter)
//   INTERNVIT_BROWSER_FLAGS="..." extra Chromium flags, appended
//   INTERNVIT_CHROMIUM=/path      browser binary (default /usr/bin/chromium)
//   INTERNVIT_BROWSER_TIMEOUT_S   how long the page may take for all checks (default 1200)
//   INTERNVIT_CHECK_FILTER=TEXT   run only checks whose name or file contains TEXT
import { existsSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser } from 'puppeteer-core';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyGpu, getGpu } from '../../src/runtime/device.js';
import type { BrowserReport } from './page/main.js';
import {
  checkNames, fileCount, formatHeader, formatOutcome, loadCheckModules, nameWidth, parseOutcomes, summarize, type CheckOutcome,
} from './check-suite.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const pageRoot = fileURLToPath(new URL('./page', import.meta.url));
const chromium = process.env.INTERNVIT_CHROMIUM || '/usr/bin/chromium';
const timeoutS = Number(process.env.INTERNVIT_BROWSER_TIMEOUT_S || 1200);
const filter = process.env.INTERNVIT_CHECK_FILTER || undefined;

// Flags from shared/webgpu-on-these-machines.md. The machine has no network: keep Chromium quiet.
const BASE_FLAGS = [
  '--no-sandbox', '--enable-unsafe-webgpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
];
const SWIFTSHADER_FLAGS = ['--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--disable-vulkan-surface'];
const HARDWARE_FLAGS = ['--enable-features=Vulkan', '--ignore-gpu-blocklist'];

/** INTERNVIT_GPU decides; unset, a hardware adapter seen by Dawn in Node means "expect a GPU". */
async function expectHardwareGpu(): Promise<boolean> {
  const v = process.env.INTERNVIT_GPU;
  if (v !== undefined && v !== '') return v !== '0' && v.toLowerCase() !== 'false';
  try {
    const gpu = await getGpu();
    const hardware = !gpu.adapter.software;
    destroyGpu(gpu);
    return hardware;
  } catch {
    return false;
  }
}

/** A port the OS reports free now (Vite treats port 0 as "use 5173"). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createTcpServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (address && typeof address !== 'string' ? resolve(address.port) : reject(new Error('no TCP port'))));
    });
  });
}

/** Starts the page's dev server on a free port; retries if another process takes the port first. */
async function startServer(): Promise<ViteDevServer> {
  for (let attempt = 1; ; attempt++) {
    const server = await createServer({
      configFile: false,
      root: pageRoot,
      logLevel: 'warn',
      cacheDir: `${repoRoot}/node_modules/.vite-browser-test`,
      // No watcher and no HMR: the page is served once, read once.
      server: { host: '127.0.0.1', port: await freePort(), strictPort: true, hmr: false, watch: null, fs: { allow: [repoRoot] } },
      // Scan the page's imports up front, so Vite does not discover a dependency mid-run and reload the page.
      optimizeDeps: { entries: ['index.html'] },
    });
    try {
      return await server.listen();
    } catch (e) {
      await server.close();
      if (attempt >= 5 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE' && !/already in use/.test(String(e))) throw e;
    }
  }
}

/** The items of `a` left after removing one occurrence per item of `b`. */
function multisetMinus(a: string[], b: string[]): string[] {
  const left = new Map<string, number>();
  for (const x of b) left.set(x, (left.get(x) ?? 0) + 1);
  return a.filter((x) => {
    const n = left.get(x) ?? 0;
    if (n > 0) left.set(x, n - 1);
    return n === 0;
  });
}

describe('kernel checks in headless Chromium (WebGPU)', () => {
  let server: ViteDevServer | undefined;
  let browser: Browser | undefined;
  let url = '';
  let flags: string[] = [];

  beforeAll(async () => {
    if (!existsSync(chromium)) {
      throw new Error(`${chromium} not found: the browser tests need Chromium (apt-get install chromium, or run npm test, ` +
        'which installs it; or set INTERNVIT_CHROMIUM to a Chromium/Chrome binary)');
    }
    const hardware = await expectHardwareGpu();
    const extra = (process.env.INTERNVIT_BROWSER_FLAGS ?? '').split(/\s+/).filter(Boolean);
    flags = [...BASE_FLAGS, ...(hardware ? HARDWARE_FLAGS : SWIFTSHADER_FLAGS), ...extra];
    server = await startServer();
    const address = server.httpServer?.address();
    if (!address || typeof address === 'string') throw new Error('Vite dev server has no TCP address');
    url = `http://127.0.0.1:${address.port}/${filter ? `?filter=${encodeURIComponent(filter)}` : ''}`;
    // A copy: Puppeteer merges --enable-features into its own defaults by editing the array it is given.
    browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: [...flags], protocolTimeout: (timeoutS + 60) * 1000 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('runs every check module in test/checks/ and every check passes', async () => {
    const modules = await loadCheckModules(filter);
    const broken = modules.filter((m) => m.error);
    const expected = checkNames(modules);
    console.log(`chromium ${chromium} ${flags.join(' ')}\n${url}: ${expected.length} checks from ${fileCount(modules)} files`);

    // Lines are collected and printed as one block (vitest prefixes every console.log with a header).
    const width = nameWidth(expected);
    const lines: string[] = [formatHeader(width)];
    const page = await browser!.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warn') lines.push(`[page ${msg.type()}] ${msg.text()}`);
    });
    page.on('pageerror', (e) => lines.push(`[page exception] ${e instanceof Error ? e.message : String(e)}`));
    page.on('requestfailed', (r) => lines.push(`[page request failed] ${r.url()}: ${r.failure()?.errorText}`));
    await page.exposeFunction('__internvitOnResult', (json: string) => {
      lines.push(formatOutcome(parseOutcomes<CheckOutcome>(json), width));
    });

    const t0 = Date.now();
    await page.goto(url, { waitUntil: 'load' });
    try {
      await page.waitForFunction(() => window.__internvitChecks?.done === true, { timeout: timeoutS * 1000, polling: 500 });
    } catch (e) {
      console.log(lines.join('\n'));
      throw new Error(`the page did not finish its checks in ${timeoutS} s (INTERNVIT_BROWSER_TIMEOUT_S); ` +
        `${lines.length - 1} lines above were reported before that: ${(e as Error).message}`);
    }
    const report = parseOutcomes<BrowserReport>(await page.evaluate(() => JSON.stringify(window.__internvitChecks,
      (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? `__num:${v}` : v))));
    await page.close();

    console.log(lines.join('\n'));
    console.log(`${report.adapter ?? 'no adapter'}\n${summarize(report.results).line} in ${((Date.now() - t0) / 1000).toFixed(1)} s (browser)`);
    // Every problem in one list, so one run shows all of them.
    const problems: string[] = [];
    if (report.error) problems.push(`the page could not run the checks: ${report.error}`);
    for (const m of broken) problems.push(`in Node: ${m.error}`);
    // Same checks on both sides: a check missing in the browser (or extra there) fails here by name.
    const ran = report.results.map((r) => r.name);
    if (!report.error) {
      for (const name of multisetMinus(expected, ran)) problems.push(`exported by test/checks but not run in the browser: ${name}`);
      for (const name of multisetMinus(ran, expected)) problems.push(`run in the browser but not exported in Node: ${name}`);
    }
    for (const r of report.results) if (!r.ok) problems.push(formatOutcome(r, width));
    expect(problems, `${problems.length} problems`).toEqual([]);
    expect(ran.length).toBe(expected.length);
  }, (timeoutS + 120) * 1000);
});
