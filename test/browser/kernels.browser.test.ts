// Runs every kernel check (src/kernels/*.check.ts) in headless Chromium: a Vite dev server serves
// test/browser/page on 127.0.0.1 (navigator.gpu needs a secure context), Puppeteer drives Debian's
// /usr/bin/chromium, and the page publishes its results on window.__internvitChecks.
//
// Environment (also those of scripts/chromium.ts: INTERNVIT_GPU, INTERNVIT_BROWSER_FLAGS, INTERNVIT_CHROMIUM):
//   INTERNVIT_BROWSER_TIMEOUT_S   how long the page may take for all checks (default 1200)
//   INTERNVIT_CHECK_FILTER=TEXT   run only checks whose name or file contains TEXT
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, forwardPageLog, openBrowser, type BrowserSession } from '../../scripts/chromium.js';
import type { BrowserReport } from './page/main.js';
import {
  checkNames, fileCount, formatHeader, formatOutcome, loadCheckModules, nameWidth, summarize, type CheckOutcome,
} from '../../src/kernels/check-suite.js';
import { fromReportJson, readPageReport } from './report-json.js';
import { repoRoot } from '../../scripts/pack.js';

const pageRoot = fileURLToPath(new URL('./page', import.meta.url));
const timeoutS = Number(process.env.INTERNVIT_BROWSER_TIMEOUT_S || 1200);
const filter = process.env.INTERNVIT_CHECK_FILTER || undefined;

/** The page's dev server and Chromium. */
function open(): Promise<BrowserSession> {
  return openBrowser({
    vite: {
      configFile: false,
      root: pageRoot,
      logLevel: 'warn',
      cacheDir: `${repoRoot}/node_modules/.vite-browser-test`,
      server: { fs: { allow: [repoRoot] } },
      // Scan the page's imports up front, so Vite does not discover a dependency mid-run and reload the page.
      optimizeDeps: { entries: ['index.html'] },
    },
    protocolTimeoutMs: (timeoutS + 60) * 1000,
  });
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
  let session: BrowserSession | undefined;

  beforeAll(async () => {
    session = await open();
  }, 120_000);

  afterAll(() => session?.close());

  it('runs every check module in src/kernels/ (*.check.ts) and every check passes', async () => {
    const modules = await loadCheckModules(filter);
    const broken = modules.filter((m) => m.error);
    const expected = checkNames(modules);
    const url = `${session!.url}/${filter ? `?filter=${encodeURIComponent(filter)}` : ''}`;
    console.log(`chromium ${chromium} ${session!.flags.join(' ')}\n${url}: ${expected.length} checks from ${fileCount(modules)} files`);

    // Lines are collected and printed as one block (vitest prefixes every console.log with a header).
    const width = nameWidth(expected);
    const lines: string[] = [formatHeader(width)];
    const page = await session!.browser.newPage();
    forwardPageLog(page, (line) => lines.push(line));
    await page.exposeFunction('__internvitOnResult', (json: string) => {
      lines.push(formatOutcome(fromReportJson<CheckOutcome>(json), width));
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
    const report = await readPageReport<BrowserReport>(page, '__internvitChecks');
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
      for (const name of multisetMinus(expected, ran)) problems.push(`exported by src/kernels/*.check.ts but not run in the browser: ${name}`);
      for (const name of multisetMinus(ran, expected)) problems.push(`run in the browser but not exported in Node: ${name}`);
    }
    for (const r of report.results) if (!r.ok) problems.push(formatOutcome(r, width));
    expect(problems, `${problems.length} problems`).toEqual([]);
    expect(ran.length).toBe(expected.length);
  }, (timeoutS + 120) * 1000);
});
