// Every model fixture (test/fixtures/model) and every InternVL fixture (test/fixtures/internvl) in
// headless Chromium, held to the Node parity tests' comparison (test/model/parity-core.ts): the Vite dev
// server serves the repository on 127.0.0.1, the page (test/browser/model-page) loads each checkpoint by
// URL prefix and runs all fixtures on one device (compiled pipelines are shared), and reports here.
// The fixture list comes from disk on this side, so the page needs no directory listing, and the
// test fails if the page ran a different set.
//
// Environment (also those of scripts/chromium.ts: INTERNVIT_GPU, INTERNVIT_BROWSER_FLAGS, INTERNVIT_CHROMIUM):
//   INTERNVIT_BROWSER_TIMEOUT_S   how long the page may take for all fixtures (default 1200)
//   INTERNVIT_FIXTURE_FILTER=TEXT run only fixtures whose id (e.g. "model/f16") contains TEXT
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, forwardPageLog, isAbortedHead, openBrowser, type BrowserSession } from '../../scripts/chromium.js';
import { listFixtures } from '../model/fixtures.js';
import { fixtureId, formatCosineFixture, formatFixture, type FixtureResult } from '../model/parity-core.js';
import type { ParityReport } from './model-page/main.js';
import type { RecoverReport } from './model-page/recover.js';
import type { LifecycleReport } from './model-page/lifecycle.js';
import { fromReportJson, readPageReport } from './report-json.js';
import { repoPageVite, runPage } from './run-page.js';

const pagePath = 'test/browser/model-page/';
const timeoutS = Number(process.env.INTERNVIT_BROWSER_TIMEOUT_S || 1200);
const filter = process.env.INTERNVIT_FIXTURE_FILTER || undefined;

/** Chromium and the dev server, rooted at the repository so fixture folders are plain URLs. */
function open(): Promise<BrowserSession> {
  return openBrowser({ vite: repoPageVite(pagePath, 'model'), protocolTimeoutMs: (timeoutS + 60) * 1000 });
}

/** Opens the page with `query`, waits for it to finish, prints its lines, returns its report. */
async function runParityPage(session: BrowserSession, query: string): Promise<ParityReport> {
  // Lines are collected and printed as one block (vitest prefixes every console.log with a header).
  const lines: string[] = [];
  const page = await session.browser.newPage();
  forwardPageLog(page, (line) => lines.push(line), { ignoreRequest: isAbortedHead });
  await page.exposeFunction('__internvitOnFixture', (json: string) => {
    lines.push(formatFixture(fromReportJson<FixtureResult>(json)));
  });

  const t0 = Date.now();
  await page.goto(`${session.url}/${pagePath}?${query}`, { waitUntil: 'load' });
  try {
    await page.waitForFunction(() => window.__internvitParity?.done === true, { timeout: timeoutS * 1000, polling: 500 });
  } catch (e) {
    console.log(lines.join('\n'));
    throw new Error(`the page did not finish the fixtures in ${timeoutS} s (INTERNVIT_BROWSER_TIMEOUT_S); ` +
      `${lines.length} lines above were reported before that: ${(e as Error).message}`);
  }
  const report = await readPageReport<ParityReport>(page, '__internvitParity');
  await page.close();

  const failed = report.results.filter((r) => !r.ok).length;
  console.log(`${lines.join('\n')}\n${report.adapter ?? 'no adapter'}\n` +
    `${report.results.length - failed} passed, ${failed} failed in ${((Date.now() - t0) / 1000).toFixed(1)} s (browser)`);
  return report;
}

describe('model and InternVL parity in headless Chromium (WebGPU)', () => {
  const all = [
    ...listFixtures('model').map((n) => fixtureId('model', n)),
    ...listFixtures('internvl').map((n) => fixtureId('internvl', n)),
  ];
  const fixtures = all.filter((id) => !filter || id.includes(filter));
  let session: BrowserSession | undefined;

  beforeAll(async () => {
    session = await open();
  }, 120_000);

  afterAll(() => session?.close());

  it('has model and InternVL fixtures on disk', () => {
    expect(all.filter((id) => id.startsWith('model/')).length).toBeGreaterThanOrEqual(8);
    expect(all.filter((id) => id.startsWith('internvl/')).length).toBeGreaterThanOrEqual(3);
  });

  it('runs every fixture in the browser, each within 5e-4 + 5e-4·|want|', async () => {
    expect(fixtures.length, `no fixture id contains INTERNVIT_FIXTURE_FILTER=${filter}`).toBeGreaterThan(0);
    console.log(`chromium ${chromium} ${session!.flags.join(' ')}\n${session!.url}/${pagePath}: ${fixtures.length} fixtures` +
      (filter ? ` (INTERNVIT_FIXTURE_FILTER=${filter}, of ${all.length})` : ''));

    const report = await runParityPage(session!, `fixtures=${encodeURIComponent(fixtures.join(','))}`);

    // Every problem in one list, so one run shows all of them.
    const problems: string[] = [];
    if (report.error) problems.push(`the page could not run the fixtures: ${report.error}`);
    const ran = report.results.map((r) => r.id);
    for (const id of fixtures) if (!ran.includes(id)) problems.push(`on disk but not run in the browser: ${id}`);
    for (const id of ran) if (!fixtures.includes(id)) problems.push(`run in the browser but not on disk: ${id}`);
    if (new Set(ran).size !== ran.length) problems.push(`a fixture ran more than once: ${ran.join(', ')}`);
    for (const r of report.results) if (!r.ok) problems.push(formatFixture(r));
    // Micro-batching in the browser: the batch-of-3 fixture also ran in passes under a lowered binding limit.
    const batch3 = report.results.find((r) => r.id === 'model/batch3-42x56');
    if (batch3 && batch3.splitPasses?.join(' + ') !== '2 + 1') problems.push(`model/batch3-42x56: micro-batching check ran as ${batch3.splitPasses?.join(' + ') ?? 'nothing'}, expected 2 + 1 passes`);
    // precision 'f16': every fixture within the cosine contract where the browser's adapter has
    // shader-f16; otherwise the page says why it skipped, and that is printed (not counted as passed).
    if (report.f16.skipped) console.log(`SKIP precision f16 in the browser: ${report.f16.skipped}`);
    else {
      console.log(report.f16.lines.join('\n'));
      const ranF16 = report.f16.results.map((r) => r.id).sort();
      if (ranF16.join() !== [...fixtures].sort().join()) problems.push(`precision f16 ran [${ranF16.join(', ')}], expected every fixture`);
      for (const r of report.f16.results) if (!r.ok) problems.push(formatCosineFixture(r));
    }
    expect(problems, `${problems.length} problems`).toEqual([]);
    expect([...ran].sort()).toEqual([...fixtures].sort());
  }, (timeoutS + 120) * 1000);

  it("runs a fixture on a device with WebGPU's default limits (getGpu limits: 'default'), within tolerance", async () => {
    const id = 'model/layernorm-f32';
    const report = await runParityPage(session!, `fixtures=${encodeURIComponent(id)}&limits=default`);
    expect(report.error).toBeUndefined();
    expect(report.adapter).toMatch(/; limits: default \(bindings 128 MiB, buffers 256 MiB\)$/);
    expect(report.results.map((r) => [r.id, r.ok, r.problems])).toEqual([[id, true, []]]);
  }, (timeoutS + 120) * 1000);

  it('a tuned load works in Chromium: tune fast times the versions, caches them (localStorage; IndexedDB reads them back), parity holds', async () => {
    const id = 'model/layernorm-f32';
    const report = await runParityPage(session!, `fixtures=${encodeURIComponent(id)}&tune=fast`);
    console.log(`tuned in the browser:\n  ${(report.tuned ?? []).join('\n  ')}\n${report.tuneStoreLocation} entries: ${report.tuneStored}; ` +
      `read back through IndexedDB: ${report.indexedDbChoices}`);
    expect(report.error).toBeUndefined();
    expect(report.results.map((r) => [r.id, r.ok, r.problems])).toEqual([[id, true, []]]);
    expect(report.tuneStoreLocation).toMatch(/^localStorage/);
    // qkv, proj, fc1, fc2 of the fixture (plus the batch's other shapes, if any), all cached.
    expect(report.tuned!.length).toBeGreaterThanOrEqual(4);
    expect(report.tuneStored).toBe(report.tuned!.length);
    expect(report.indexedDbChoices).toBe(report.tuned!.length);
  }, (timeoutS + 120) * 1000);

  it('concurrent embeds equal serial ones bit for bit in the browser; live GPU bytes stay bounded; dispose() frees all', async () => {
    const { report: r, lines } = await runPage<LifecycleReport>(session!, `${pagePath}?lifecycle=model/ragged-47x61`, '__internvitLifecycle', { timeoutMs: 300_000 });
    console.log(`${lines.join('\n')}\n${r.adapter ?? 'no adapter'}\n${r.calls} concurrent calls, mismatches ${JSON.stringify(r.concurrentMismatches)}; ` +
      `${r.sizes} sizes: peak ${r.peakBytes} B live above the start (bound ${r.bound} B), ${r.afterDispose} B after dispose()`);
    expect(r.error).toBeUndefined();
    expect(r.calls).toBe(8);
    expect(r.concurrentMismatches).toEqual([]);
    expect(r.peakBytes).toBeGreaterThan(0);
    expect(r.peakBytes!).toBeLessThanOrEqual(r.bound!);
    expect(r.afterDispose).toBe(0);
  }, 400_000);

  it('device loss in the browser: the run in flight and the next call reject, recover() gives identical outputs', async () => {
    const { report: r, lines } = await runPage<RecoverReport>(session!, `${pagePath}?recover=model/ragged-47x61`, '__internvitRecover', { timeoutMs: 300_000 });
    console.log(`${lines.join('\n')}\n${r.adapter ?? 'no adapter'}\nin flight: ${r.inFlight}\nnext call: ${r.later}\nidentical after recover(): ${r.identical}`);
    expect(r.error).toBeUndefined();
    expect(r.inFlight).toMatch(/^DeviceLostError: WebGPU device lost/);
    expect(r.later).toMatch(/^DeviceLostError: .*Call model\.recover\(\)/);
    expect(r.identical).toBe(true);
  }, 400_000);
});
