// What the test pages (page/ and model-page/) share: the style, the result table, the adapter line,
// and the report the Node side waits for (window.<name>.done) with the error that stopped the run.
// Each page's index.html holds #adapter, #summary and a table body #results.
import { describeGpu, destroyGpu, getGpu, type GetGpuOptions, type Gpu } from '../../src/runtime/device.js';
import './page.css';

export interface PageReport {
  done: boolean;
  adapter?: string;
  /** Set when the run could not start (no WebGPU, no adapter, bad query) or crashed outside a case. */
  error?: string;
}

const $ = (id: string) => document.getElementById(id)!;

export function cell(text: string, className?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** Appends a row of cells to the result table. */
export function addRow(...cells: HTMLTableCellElement[]): void {
  const tr = document.createElement('tr');
  tr.append(...cells);
  $('results').append(tr);
}

/** Runs `work` on a WebGPU device (destroyed after), its adapter shown on the page and in the report. */
export async function withPageGpu<T>(report: PageReport, work: (gpu: Gpu) => Promise<T>, options: GetGpuOptions = {}): Promise<T> {
  const gpu = await getGpu(options);
  report.adapter = describeGpu(gpu);
  $('adapter').textContent = report.adapter;
  try {
    return await work(gpu);
  } finally {
    destroyGpu(gpu);
  }
}

/**
 * Runs the page: a throw becomes report.error (shown in place of the adapter); then the summary line
 * ('did not run' after an error) is shown and report.done set, which the Node side waits for.
 */
export function runPage(report: PageReport, main: () => Promise<void>, summary: () => string): void {
  main()
    .catch((e: unknown) => {
      report.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      $('adapter').textContent = report.error;
      console.error(e);
    })
    .finally(() => {
      $('summary').textContent = report.error ? 'did not run' : summary();
      report.done = true;
    });
}
