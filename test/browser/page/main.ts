// Browser side of the kernel checks: runs every check from src/kernels/*.check.ts on navigator.gpu and
// publishes the results on window.__internvitChecks (read by test/browser/kernels.browser.test.ts).
import {
  checkNames, loadCheckModules, runAll, statusOf, summarize, type CheckOutcome,
} from '../../../src/kernels/check-suite.js';
import { addRow, cell, runPage, withPageGpu, type PageReport } from '../page-shell.js';
import { toReportJson } from '../report-json.js';

export interface BrowserReport extends PageReport {
  /** Checks the page found (modules that failed to load count one each). */
  expected?: number;
  results: CheckOutcome[];
}

declare global {
  interface Window {
    __internvitChecks: BrowserReport;
    /** Installed by the Puppeteer runner (page.exposeFunction) to stream results as they finish. */
    __internvitOnResult?: (json: string) => Promise<void>;
  }
}

const report: BrowserReport = { done: false, results: [] };
window.__internvitChecks = report;

function show(r: CheckOutcome): void {
  const status = statusOf(r);
  const num = (v: number, f: (v: number) => string) => (Number.isFinite(v) ? f(v) : String(v));
  addRow(
    cell(status, status),
    cell(r.name),
    cell(r.file),
    cell(r.skipped || r.error ? '' : num(r.maxAbs, (v) => v.toExponential(2)), 'num'),
    cell(r.skipped || r.error ? '' : num(r.worstRatio, (v) => `${(100 * v).toFixed(1)}%`), 'num'),
    cell(`${r.seconds.toFixed(2)} s`, 'num'),
    cell(r.skipped ?? r.error ?? (r.ok ? '' : `worst at ${r.worst.index}: got ${r.worst.got}, want ${r.worst.want}`)),
  );
}

async function publish(r: CheckOutcome): Promise<void> {
  report.results.push(r);
  show(r);
  await window.__internvitOnResult?.(toReportJson(r));
}

runPage(report, async () => {
  const filter = new URLSearchParams(location.search).get('filter') ?? undefined;
  const modules = await loadCheckModules(filter);
  report.expected = checkNames(modules).length;
  await withPageGpu(report, (gpu) => runAll(gpu, modules, publish));
}, () => summarize(report.results).line);
