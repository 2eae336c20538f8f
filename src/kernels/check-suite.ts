// Every kernel check in src/kernels/*.check.ts and src/runtime/*.check.ts, found by Vite's import.meta.glob, so a new check file is
// picked up without edits by the browser page, the browser test (Node side, to count them) and the
// CLI's `internvit selfcheck` (bundled at build time). Browser-safe: no node: imports.
import type { Gpu } from '../runtime/device.js';
import { ATOL, RTOL, type CheckResult, type KernelCheck } from './check-harness.js';

export interface CheckModule {
  /** e.g. "src/kernels/gelu.check.ts" */
  file: string;
  checks: KernelCheck[];
  /** Set when the module failed to load or exports no usable `checks` array. */
  error?: string;
}

export interface CheckOutcome extends CheckResult {
  file: string;
  seconds: number;
  /** The check threw instead of returning a result (counts as a failure). */
  error?: string;
}

// Lazy, so one broken module is reported as a failure of that file instead of taking the page down.
// check-harness.ts holds the shared helpers; only *.check.ts modules are globbed.
const loaders = import.meta.glob(['./*.check.ts', '../runtime/*.check.ts']);

/** The repository path of a glob key ('./matmul.check.ts' → 'src/kernels/matmul.check.ts'). */
function fileName(key: string): string {
  return key.startsWith('./') ? `src/kernels/${key.slice(2)}` : key.replace(/^\.\.\//, 'src/');
}

function isCheck(c: unknown): c is KernelCheck {
  return typeof c === 'object' && c !== null && typeof (c as KernelCheck).name === 'string' &&
    typeof (c as KernelCheck).run === 'function';
}

/** Loads every check module (sorted by file). Never throws: problems are recorded on the module. */
export async function loadCheckModules(filter?: string): Promise<CheckModule[]> {
  const modules: CheckModule[] = [];
  for (const key of Object.keys(loaders).sort()) {
    const file = fileName(key);
    try {
      const mod = (await loaders[key]!()) as { checks?: unknown };
      if (!Array.isArray(mod.checks)) {
        modules.push({ file, checks: [], error: `${file} exports no \`checks\` array (helpers belong in src/kernels/check-harness.ts or a module not named *.check.ts)` });
        continue;
      }
      const bad = mod.checks.findIndex((c) => !isCheck(c));
      if (bad >= 0) {
        modules.push({ file, checks: [], error: `${file}: checks[${bad}] is not a {name, run} KernelCheck` });
        continue;
      }
      const checks = (mod.checks as KernelCheck[]).filter((c) => !filter || c.name.includes(filter) || file.includes(filter));
      modules.push({ file, checks });
    } catch (e) {
      modules.push({ file, checks: [], error: `${file} failed to load: ${errorText(e)}` });
    }
  }
  return modules;
}

/** A module that could not be loaded, as a failed result so every report counts it. */
export function moduleFailure(m: CheckModule): CheckOutcome {
  return failure(m.file, `load ${m.file}`, m.error ?? 'unknown error', 0);
}

/** Runs one check; a throw becomes a failed result carrying the message. */
export async function runCheck(gpu: Gpu, file: string, check: KernelCheck): Promise<CheckOutcome> {
  const t0 = performance.now();
  try {
    const r = await check.run(gpu);
    return { ...r, name: check.name, file, seconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    return failure(file, check.name, errorText(e), (performance.now() - t0) / 1000);
  }
}

function failure(file: string, name: string, error: string, seconds: number): CheckOutcome {
  return {
    name, file, seconds, error, ok: false, n: 0, maxAbs: NaN, worstRatio: NaN,
    worst: { index: -1, got: NaN, want: NaN }, atol: ATOL, rtol: RTOL,
  };
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Column width for check names in the text table. */
export function nameWidth(names: string[]): number {
  return Math.min(80, Math.max(24, ...names.map((n) => n.length)));
}

export type Status = 'ok' | 'FAIL' | 'SKIP';

export function statusOf(r: CheckOutcome): Status {
  return r.skipped ? 'SKIP' : r.ok ? 'ok' : 'FAIL';
}

/** One table row: status, name, max error, % of tolerance, seconds; the reason for SKIP/FAIL. */
export function formatOutcome(r: CheckOutcome, nameWidth = 48): string {
  const status = statusOf(r).padEnd(4);
  const name = r.name.padEnd(nameWidth);
  if (r.skipped) return `${status} ${name} skipped: ${r.skipped}`;
  if (r.error) return `${status} ${name} error: ${r.error}`;
  const err = Number.isFinite(r.maxAbs) ? r.maxAbs.toExponential(2) : String(r.maxAbs);
  const pct = Number.isFinite(r.worstRatio) ? `${(100 * r.worstRatio).toFixed(1)}%` : String(r.worstRatio);
  const detail = r.ok ? '' : `  worst at ${r.worst.index}: got ${r.worst.got}, want ${r.worst.want}`;
  return `${status} ${name} ${err.padStart(9)} ${pct.padStart(8)} ${r.seconds.toFixed(1).padStart(6)}s${detail}`;
}

export function formatHeader(nameWidth = 48): string {
  return `${'    '} ${'check'.padEnd(nameWidth)} ${'max |err|'.padStart(9)} ${'% tol'.padStart(8)} ${'time'.padStart(7)}`;
}

export function summarize(results: CheckOutcome[]): { ok: number; failed: number; skipped: number; line: string } {
  const skipped = results.filter((r) => r.skipped).length;
  const failed = results.filter((r) => !r.ok).length;
  const ok = results.length - skipped - failed;
  return { ok, failed, skipped, line: `${ok} passed, ${failed} failed, ${skipped} skipped` };
}

/** Runs every check of every module in order, handing each result to `report` as it finishes. */
export async function runAll(gpu: Gpu, modules: CheckModule[], report: (r: CheckOutcome) => void | Promise<void>): Promise<CheckOutcome[]> {
  const results: CheckOutcome[] = [];
  const publish = async (r: CheckOutcome) => {
    results.push(r);
    await report(r);
  };
  for (const m of modules) {
    if (m.error) await publish(moduleFailure(m));
    else for (const check of m.checks) await publish(await runCheck(gpu, m.file, check));
  }
  return results;
}

/**
 * The text report (selfcheck, the Node bench runner): a count line and a header, one row per check as
 * it finishes, and the summary (returned; the caller prints it with its own context).
 */
export async function printChecks(gpu: Gpu, modules: CheckModule[], print: (line: string) => void): Promise<ReturnType<typeof summarize>> {
  const names = checkNames(modules);
  const width = nameWidth(names);
  print(`${names.length} checks from ${fileCount(modules)} files\n${formatHeader(width)}`);
  return summarize(await runAll(gpu, modules, (r) => print(formatOutcome(r, width))));
}

/** Files that contribute at least one result (after a filter). */
export function fileCount(modules: CheckModule[]): number {
  return modules.filter((m) => m.error || m.checks.length).length;
}

/** The names runAll will report, in order (a broken module reports as "load <file>"). */
export function checkNames(modules: CheckModule[]): string[] {
  return modules.flatMap((m) => (m.error ? [`load ${m.file}`] : m.checks.map((c) => c.name)));
}
