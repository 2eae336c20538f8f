// `npm run bench [-- options]`: the benchmark page in headless Chromium (Puppeteer drives Debian's
// /usr/bin/chromium), served by a Vite dev server on 127.0.0.1 (navigator.gpu needs a secure context).
// Records stream to the terminal and land in bench/results/ beside the Node runner's.
//
// Options are the page's query options (see bench/index.html), as flags:
//   --quick --suites kernels,model --models tiny|300M,6B --sizes 224,448 --batches 1,8 --runs N
//   --warmup N --kernels TEXT --weights auto|f32,bf16,f16 --precision f32,auto|f16 --no-peer --model-dir-300M URL
// and for the runner: --gpu | --software (Chromium adapter flags; default: INTERNVIT_GPU, else SwiftShader
// unless Dawn in Node sees a hardware GPU), --timeout S (default 900 quick, 3600 full), --out DIR, --fresh.
// Environment: those of scripts/chromium.ts (the launcher shared with the browser tests): INTERNVIT_GPU,
// INTERNVIT_CHROMIUM (browser binary), INTERNVIT_BROWSER_FLAGS (extra flags).
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { browserFlags, chromium, DEVELOPER_FLAGS, expectHardwareGpu, forwardPageLog, openBrowser, requireChromium } from '../scripts/chromium.js';
import { formatRecord } from './lib/format.js';
import { mergeResults, readResults, writeResults } from './lib/results.js';
import type { BenchRecord } from './lib/types.js';
import type { PageReport } from './main.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

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

async function main(): Promise<void> {
  const { page: query, runner } = parseArgs(process.argv.slice(2));
  const quick = query.has('quick');
  const timeoutS = Number(runner.get('timeout') ?? (quick ? 900 : 3600));
  const outDir = resolve(runner.get('out') ?? join(repoRoot, 'bench/results'));
  requireChromium();
  const hardware = runner.has('gpu') ? true : runner.has('software') ? false : await expectHardwareGpu();
  const flags = await browserFlags({ hardware, extra: DEVELOPER_FLAGS });

  const started = Date.now();
  const session = await openBrowser({
    vite: { configFile: join(repoRoot, 'bench/vite.config.ts'), logLevel: 'warn' },
    protocolTimeoutMs: (timeoutS + 120) * 1000,
    flags,
  });
  query.set('auto', '1');
  const url = `${session.url}/bench/index.html?${query.toString()}`;
  console.log(`chromium ${chromium} ${flags.join(' ')}\n${url}`);

  let report: PageReport;
  let browserVersion: string;
  try {
    browserVersion = await session.browser.version();
    const page = await session.browser.newPage();
    // 404s are the loader probing for optional files (model-224.onnx, pixels-224.safetensors, ...), and
    // ERR_ABORTED is it cancelling a body it has read enough of: expected, not printed.
    forwardPageLog(page, (line) => console.log(line), {
      ignoreConsole: (text) => /status of 404/.test(text),
      ignoreRequest: (r) => r.failure()?.errorText === 'net::ERR_ABORTED',
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
    await session.close();
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
