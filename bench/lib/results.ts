// bench/results/: latest.json (every record, and which command made them), summary.md and the SVG
// charts. The browser and Node runners each replace their own records and keep the other's. Node only.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { kernelChartSvg, modelChartSvg, summaryMarkdown } from './report.js';
import type { BenchRecord, Mode, Runner } from './types.js';

export interface RunInfo {
  runner: Runner;
  mode: Mode;
  /** The command line that made the records. */
  command: string;
  seconds: number;
  /** describeGpu() of the adapter, as the runner printed it. */
  adapter: string;
  environment: string;
  date: string;
  /** The record suites this run measured; absent: kernel and model (runs before the soak suite). */
  suites?: BenchRecord['suite'][];
}

export interface Results {
  runs: RunInfo[];
  /** One record per measurement; see bench/lib/types.ts BenchRecord. */
  records: BenchRecord[];
}

export async function readResults(file: string): Promise<Results> {
  try {
    const json = JSON.parse(await readFile(file, 'utf8')) as Partial<Results>;
    return { runs: Array.isArray(json.runs) ? json.runs : [], records: Array.isArray(json.records) ? json.records : [] };
  } catch {
    return { runs: [], records: [] };
  }
}

/**
 * Fresh records replace this runner's old ones of the suites it ran (with `append`, they are added to
 * them); other runners' records, and this runner's of other suites, stay if they are of the same mode.
 */
export function mergeResults(old: Results, run: RunInfo, records: BenchRecord[], append = false): Results {
  const ran = new Set(run.suites ?? ['kernel', 'model', 'dataset', 'soak']);
  const other = (x: { runner: Runner; mode: Mode }) => x.mode === run.mode && (append || x.runner !== run.runner);
  const keepRecord = (x: BenchRecord) => other(x) || (x.mode === run.mode && !ran.has(x.suite));
  // An old run stays while some of its suites were not measured again.
  const keepRun = (x: RunInfo) => other(x) || (x.mode === run.mode && (x.suites ?? ['kernel', 'model']).some((s) => !ran.has(s)));
  return { runs: [...old.runs.filter(keepRun), run], records: [...old.records.filter(keepRecord), ...records] };
}

async function writeAtomic(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

/** Writes latest.json, summary.md, model.svg and kernels.svg into `dir`; returns the paths. */
export async function writeResults(dir: string, results: Results): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files = {
    json: join(dir, 'latest.json'), md: join(dir, 'summary.md'), model: join(dir, 'model.svg'), kernels: join(dir, 'kernels.svg'),
  };
  const header = results.runs.map((r) =>
    `- ${r.runner}: \`${r.command}\` — ${r.mode} mode, ${r.seconds.toFixed(0)} s, ${r.date.slice(0, 16).replace('T', ' ')} UTC; ${r.environment}; ${r.adapter}`);
  await writeAtomic(files.json, `${JSON.stringify({ schema: 1, updated: new Date().toISOString(), ...results }, null, 1)}\n`);
  await writeAtomic(files.md, `${summaryMarkdown(results.records, header.length ? ['Made by:', '', ...header, ''] : [])}\n`);
  await writeAtomic(files.model, modelChartSvg(results.records));
  await writeAtomic(files.kernels, kernelChartSvg(results.records));
  return Object.values(files);
}
