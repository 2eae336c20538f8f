// `npm run bench [-- options]`: the benchmark page in headless Chromium (Puppeteer drives Debian's
// /usr/bin/chromium), served by a Vite dev server on 127.0.0.1 (navigator.gpu needs a secure context).
// Records stream to the terminal and land in bench/results/ beside the Node runner's.
//
// Options are the page's query options (see bench/index.html), as flags:
//   --quick --suites kernels,model --models tiny|300M,6B --sizes 224,448 --batches 1,8 --runs N
//   --warmup N --kernels TEXT --no-peer --model-dir-300M URL
// and for the runner: --gpu | --software (Chromium adapter flags; default: SwiftShader unless Dawn in
// Node sees a hardware GPU), --timeout S (default 900 quick, 3600 full), --out DIR, --fresh.
// Environment: INTERNVIT_CHROMIUM (browser binary), INTERNVIT_BROWSER_FLAGS (extra flags).
// This is its own small launcher: test/browser/kernels.browser.test.ts has the same flags inside a
// vitest test, not as a reusable helper.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { createServer } from 'vite';
import { destroyGpu, getGpu } from '../src/runtime/device.js';
import { formatRecord } from './lib/format.js';
import { mergeResults, readResults, writeResults } from './lib/results.js';
import type { BenchRecord } from './lib/types.js';
import type { PageReport } from './main.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const chromium = process.env.INTERNVIT_CHROMIUM || '/usr/bin/chromium';

// From shared/webgpu-on-these-machines.md. No network: keep Chromium quiet. The developer-features flag
// gives full-resolution timestamp queries (Chrome rounds them to 100 µs otherwise).
const BASE_FLAGS = [
  '--no-sandbox', '--enable-unsafe-webgpu', '--enable-webgpu-developer-features', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
];
const SWIFTSHADER_FLAGS = ['--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--disable-vulkan-surface'];
const HARDWARE_FLAGS = ['--enable-features=Vulkan', '--ignore-gpu-blocklist'];
const RUNNER_FLAGS = new Set(['gpu', 'software', 'timeout', 'out', 'fresh']);
const BOOLEAN = new Set(['quick', 'no-peer', 'gpu', 'software', 'fresh']);

function parseArgs(argv: string[]): { page: URLSearchParams; runner: Map<string, string> } {
  const page = new URLSearchParams();
  const runner = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}' (options start with --)`);
    const [k, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const v = inline ?? (BOOLEAN.has(k) ? '1' : argv[++i]);
    if (v === undefined) throw new Error(`--${k} needs a value`);
    if (RUNNER_FLAGS.has(k)) runner.set(k, v);
    else page.set(k, v);
  }
  return { page, runner };
}

async function hardwareGpu(): Promise<boolean> {
  try {
    const gpu = await getGpu();
    const hw = !gpu.adapter.software;
    destroyGpu(gpu);
    return hw;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const { page: query, runner } = parseArgs(process.argv.slice(2));
  const quick = query.has('quick');
  const timeoutS = Number(runner.get('timeout') ?? (quick ? 900 : 3600));
  const outDir = resolve(runner.get('out') ?? join(repoRoot, 'bench/results'));
  if (!existsSync(chromium)) throw new Error(`${chromium} not found: apt-get install chromium, or set INTERNVIT_CHROMIUM`);
  const hardware = runner.has('gpu') ? true : runner.has('software') ? false : await hardwareGpu();
  const flags = [...BASE_FLAGS, ...(hardware ? HARDWARE_FLAGS : SWIFTSHADER_FLAGS),
    ...(process.env.INTERNVIT_BROWSER_FLAGS ?? '').split(/\s+/).filter(Boolean)];

  const started = Date.now();
  const server = await createServer({ configFile: join(repoRoot, 'bench/vite.config.ts'), logLevel: 'warn', server: { port: 0, hmr: false, watch: null } });
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('the Vite dev server has no TCP address');
  query.set('auto', '1');
  const url = `http://127.0.0.1:${address.port}/bench/index.html?${query.toString()}`;
  console.log(`chromium ${chromium} ${flags.join(' ')}\n${url}`);

  const browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: [...flags], protocolTimeout: (timeoutS + 120) * 1000 });
  let report: PageReport;
  const browserVersion = await browser.version();
  try {
    const page = await browser.newPage();
    // 404s are the loader probing for optional files (model-224.onnx, pixels-224.safetensors, ...), and
    // ERR_ABORTED is it cancelling a body it has read enough of: expected, not printed.
    page.on('console', (m) => {
      const text = m.text();
      if ((m.type() === 'error' || m.type() === 'warn') && !/status of 404/.test(text)) console.log(`[page ${m.type()}] ${text}`);
    });
    page.on('pageerror', (e) => console.log(`[page exception] ${e instanceof Error ? e.message : String(e)}`));
    page.on('requestfailed', (r) => {
      if (r.failure()?.errorText !== 'net::ERR_ABORTED') console.log(`[page request failed] ${r.url()}: ${r.failure()?.errorText}`);
    });
    await page.exposeFunction('__benchOnRecord', (json: string) => { console.log(formatRecord(JSON.parse(json) as BenchRecord)); });
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForFunction(() => window.__bench?.done === true, { timeout: timeoutS * 1000, polling: 1000 })
      .catch(async (e: Error) => {
        const partial = await page.evaluate(() => window.__bench?.records?.length ?? 0).catch(() => 0);
        throw new Error(`the page did not finish in ${timeoutS} s (--timeout); ${partial} records were made: ${e.message}`);
      });
    report = await page.evaluate(() => JSON.parse(JSON.stringify(window.__bench)) as PageReport);
  } finally {
    await browser.close();
    await server.close();
  }
  if (report.error) throw new Error(`the page could not run the benchmarks: ${report.error}`);
  const mode = quick ? 'quick' : 'full';
  const old = runner.has('fresh') ? { runs: [], records: [] } : await readResults(join(outDir, 'latest.json'));
  const files = await writeResults(outDir, mergeResults(old, {
    runner: 'browser', mode, command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    seconds: (Date.now() - started) / 1000, adapter: report.adapter ?? 'unknown',
    environment: `headless ${browserVersion}${hardware ? '' : ' (SwiftShader flags)'}`, date: new Date(started).toISOString(),
  }, report.records));
  console.log(`wrote ${files.join(', ')}`);
  const errors = report.records.filter((r) => r.error);
  if (errors.length) console.log(`${errors.length} measurement(s) recorded an error (see summary.md)`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
