// Browser side of the kernel checks: runs every check from test/checks/*.ts on navigator.gpu and
// publishes the results on window.__internvitChecks (read by test/browser/kernels.browser.test.ts).
import { describeGpu, destroyGpu, getGpu } from '../../../src/runtime/device.js';
import {
  checkNames, loadCheckModules, runAll, statusOf, stringifyOutcomes, summarize, type CheckOutcome,
} from '../check-suite.js';

export interface BrowserReport {
  done: boolean;
  adapter?: string;
  /** Checks the page found (modules that failed to load count one each). */
  expected?: number;
  results: CheckOutcome[];
  /** Set when the run could not start (no WebGPU, no adapter) or crashed outside a check. */
  error?: string;
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

const $ = (id: string) => document.getElementById(id)!;

function cell(text: string, className?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function show(r: CheckOutcome): void {
  const tr = document.createElement('tr');
  const status = statusOf(r);
  const num = (v: number, f: (v: number) => string) => (Number.isFinite(v) ? f(v) : String(v));
  tr.append(
    cell(status, status),
    cell(r.name),
    cell(r.file),
    cell(r.skipped || r.error ? '' : num(r.maxAbs, (v) => v.toExponential(2)), 'num'),
    cell(r.skipped || r.error ? '' : num(r.worstRatio, (v) => `${(100 * v).toFixed(1)}%`), 'num'),
    cell(`${r.seconds.toFixed(2)} s`, 'num'),
    cell(r.skipped ?? r.error ?? (r.ok ? '' : `worst at ${r.worst.index}: got ${r.worst.got}, want ${r.worst.want}`)),
  );
  $('results').append(tr);
}

async function publish(r: CheckOutcome): Promise<void> {
  report.results.push(r);
  show(r);
  await window.__internvitOnResult?.(stringifyOutcomes(r));
}

async function main(): Promise<void> {
  const filter = new URLSearchParams(location.search).get('filter') ?? undefined;
  const modules = await loadCheckModules(filter);
  report.expected = checkNames(modules).length;
  const gpu = await getGpu();
  report.adapter = describeGpu(gpu);
  $('adapter').textContent = report.adapter;
  try {
    await runAll(gpu, modules, publish);
  } finally {
    destroyGpu(gpu);
  }
}

main()
  .catch((e: unknown) => {
    report.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    $('adapter').textContent = report.error;
    console.error(e);
  })
  .finally(() => {
    $('summary').textContent = report.error ? 'did not run' : summarize(report.results).line;
    report.done = true;
  });
