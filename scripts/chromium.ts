// Headless Chromium with WebGPU, shared by the browser tests (test/browser/), the embed page test
// (examples/embed-page/) and the browser benchmark runner (bench/browser.ts): Chromium flags
// (SwiftShader or a hardware GPU), a Vite dev server on 127.0.0.1 with a free port (navigator.gpu
// needs a secure context), the Puppeteer launch of Debian's /usr/bin/chromium, and the page's log.
//
// Environment:
//   INTERNVIT_GPU=1|0             hardware GPU flags / SwiftShader flags (default: SwiftShader unless
//                                 Dawn in Node finds a hardware adapter)
//   INTERNVIT_BROWSER_FLAGS="..." extra Chromium flags, appended
//   INTERNVIT_CHROMIUM=/path      browser binary (default /usr/bin/chromium)
import { existsSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import puppeteer, { type Browser, type HTTPRequest, type Page } from 'puppeteer-core';
import { createServer, type InlineConfig, type ViteDevServer } from 'vite';
import { destroyGpu, getGpu } from '../src/runtime/device.js';

export const chromium = process.env.INTERNVIT_CHROMIUM || '/usr/bin/chromium';

// Flags from shared/webgpu-on-these-machines.md. The machine has no network: keep Chromium quiet.
export const BASE_FLAGS = [
  '--no-sandbox', '--enable-unsafe-webgpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
];
export const SWIFTSHADER_FLAGS = ['--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--disable-vulkan-surface'];
export const HARDWARE_FLAGS = ['--enable-features=Vulkan', '--ignore-gpu-blocklist'];
/** Full-resolution timestamp queries (Chrome rounds them to 100 µs otherwise): for benchmarks. */
export const DEVELOPER_FLAGS = ['--enable-webgpu-developer-features'];

/** INTERNVIT_GPU decides; unset, a hardware adapter seen by Dawn in Node means "expect a GPU". */
export async function expectHardwareGpu(): Promise<boolean> {
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

/**
 * Chromium flags for this machine: base + (hardware or SwiftShader) + `extra` + INTERNVIT_BROWSER_FLAGS.
 * `hardware` unset: expectHardwareGpu() decides.
 */
export async function browserFlags(opts: { hardware?: boolean; extra?: readonly string[] } = {}): Promise<string[]> {
  const hardware = opts.hardware ?? await expectHardwareGpu();
  const env = (process.env.INTERNVIT_BROWSER_FLAGS ?? '').split(/\s+/).filter(Boolean);
  return [...BASE_FLAGS, ...(hardware ? HARDWARE_FLAGS : SWIFTSHADER_FLAGS), ...(opts.extra ?? []), ...env];
}

/** Fails with what to install when the browser binary is missing. */
export function requireChromium(): void {
  if (!existsSync(chromium)) {
    throw new Error(`${chromium} not found: the browser tests and npm run bench need Chromium (apt-get install chromium, ` +
      'or run npm test, which installs it; or set INTERNVIT_CHROMIUM to a Chromium/Chrome binary)');
  }
}

/** Headless Chromium with these flags. */
export function launchChromium(flags: readonly string[], protocolTimeoutMs: number): Promise<Browser> {
  // A copy: Puppeteer merges --enable-features into its own defaults by editing the array it is given.
  return puppeteer.launch({ executablePath: chromium, headless: true, args: [...flags], protocolTimeout: protocolTimeoutMs });
}

/** A port the OS reports free now (Vite treats port 0 as "use 5173"). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createTcpServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (address && typeof address !== 'string' ? resolve(address.port) : reject(new Error('no TCP port'))));
    });
  });
}

/**
 * Starts a Vite dev server on 127.0.0.1 and a free port, without watcher or HMR (a page is served
 * once, read once); retries if another process takes the port first.
 */
export async function startVite(config: InlineConfig): Promise<ViteDevServer> {
  for (let attempt = 1; ; attempt++) {
    const server = await createServer({
      ...config,
      server: { ...config.server, host: '127.0.0.1', port: await freePort(), strictPort: true, hmr: false, watch: null },
    });
    try {
      return await server.listen();
    } catch (e) {
      await server.close();
      if (attempt >= 5 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE' && !/already in use/.test(String(e))) throw e;
    }
  }
}

/** http://127.0.0.1:PORT of a listening dev server. */
export function serverUrl(server: ViteDevServer): string {
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('Vite dev server has no TCP address');
  return `http://127.0.0.1:${address.port}`;
}

export interface BrowserSession {
  server: ViteDevServer;
  browser: Browser;
  flags: string[];
  /** http://127.0.0.1:PORT of the dev server. */
  url: string;
  /** Closes the browser, then the server. */
  close(): Promise<void>;
}

/**
 * Checks for Chromium, starts the dev server (startVite) and launches Chromium with `flags`
 * (default: browserFlags()). Nothing is left running if a step fails.
 */
export async function openBrowser(opts: { vite: InlineConfig; protocolTimeoutMs: number; flags?: string[] }): Promise<BrowserSession> {
  requireChromium();
  const flags = opts.flags ?? await browserFlags();
  const server = await startVite(opts.vite);
  let browser: Browser;
  try {
    browser = await launchChromium(flags, opts.protocolTimeoutMs);
  } catch (e) {
    await server.close();
    throw e;
  }
  return {
    server, browser, flags, url: serverUrl(server),
    async close() {
      try {
        await browser.close();
      } finally {
        await server.close();
      }
    },
  };
}

export interface PageLogOptions {
  /** Console errors and warnings to leave out, by text. */
  ignoreConsole?: (text: string) => boolean;
  /** Failed requests to leave out (expected ones, such as a loader probing for optional files). */
  ignoreRequest?: (request: HTTPRequest) => boolean;
}

/** For ignoreRequest: Chromium reports every HEAD (the loader's size probe) as ERR_ABORTED while fetch gets its 200. */
export const isAbortedHead = (r: HTTPRequest): boolean => r.method() === 'HEAD' && r.failure()?.errorText === 'net::ERR_ABORTED';

/** Hands the page's console errors and warnings, uncaught exceptions and failed requests to `log`, a line each. */
export function forwardPageLog(page: Page, log: (line: string) => void, opts: PageLogOptions = {}): void {
  page.on('console', (msg) => {
    if ((msg.type() === 'error' || msg.type() === 'warn') && !opts.ignoreConsole?.(msg.text())) log(`[page ${msg.type()}] ${msg.text()}`);
  });
  page.on('pageerror', (e) => log(`[page exception] ${e instanceof Error ? e.message : String(e)}`));
  page.on('requestfailed', (r) => {
    if (opts.ignoreRequest?.(r)) return;
    const range = r.headers().range ? ` (${r.headers().range})` : '';
    log(`[page request failed] ${r.method()} ${r.url()}${range}: ${r.failure()?.errorText}`);
  });
}
