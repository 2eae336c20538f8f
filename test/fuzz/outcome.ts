// What a fuzz case may end in: success, or an Error whose message names the file and the problem.
// A JavaScript engine error (TypeError, RangeError, …) means the code tripped over the input
// instead of checking it, and a non-Error throw or a slow case (a hang in the making) is a defect.

const ENGINE_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError, EvalError];

/** Slower than this per case counts as a hang (the tiny inputs take a few ms). */
export const CASE_MS_LIMIT = 2000;

export interface Outcome {
  label: string;
  ok: boolean;
  message?: string;
  ms: number;
  /** Set when the case is a defect: why. */
  defect?: string;
}

/** Runs one case and classifies how it ended; `where` must appear in an error's message. */
export async function outcome(label: string, where: string, run: () => Promise<void>, limitMs = CASE_MS_LIMIT): Promise<Outcome> {
  const t = performance.now();
  let thrown: unknown;
  let failed = false;
  try {
    await run();
  } catch (e) {
    failed = true;
    thrown = e;
  }
  const ms = performance.now() - t;
  const o: Outcome = { label, ok: !failed, ms };
  if (failed) {
    if (!(thrown instanceof Error)) {
      o.defect = `threw a non-Error: ${String(thrown)}`;
      return o;
    }
    o.message = thrown.message;
    if (ENGINE_ERRORS.some((E) => thrown instanceof E)) o.defect = `engine error ${thrown.name}: ${thrown.message}\n${thrown.stack ?? ''}`;
    else if (!thrown.message.includes(where)) o.defect = `error does not name '${where}': ${thrown.message}`;
    else if (thrown.message.length < where.length + 12) o.defect = `error does not say what is wrong: ${thrown.message}`;
  }
  if (!o.defect && ms > limitMs) o.defect = `took ${ms.toFixed(0)} ms (limit ${limitMs})`;
  return o;
}

/** One line per kind of ending (first words of the message), for the test log. */
export function summarize(outcomes: Outcome[]): string {
  const kinds = new Map<string, number>();
  for (const o of outcomes) {
    const key = o.ok ? 'succeeded (harmless mutation)' : (o.message ?? '').replace(/^.*?fuzz-\d+[^:]*: /, '').replace(/['"`][^'"`]*['"`]/g, '…').replace(/\d+/g, 'N').slice(0, 70);
    kinds.set(key, (kinds.get(key) ?? 0) + 1);
  }
  const slowest = Math.max(...outcomes.map((o) => o.ms));
  return [...kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${String(n).padStart(5)}  ${k}`).join('\n') +
    `\n  slowest case ${slowest.toFixed(1)} ms`;
}

export function defects(outcomes: Outcome[]): string[] {
  return outcomes.filter((o) => o.defect).map((o) => `${o.label}\n    ${o.defect}`);
}
