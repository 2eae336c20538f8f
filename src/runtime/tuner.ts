// On-device autotuning: which version of each versioned op (versions.ts) a plan records on this
// device. Modes (the load option `tune`, CLI --tune):
//   'off'   the tables' heuristics; the cache is neither read nor written.
//   'cache' (default) choices cached for this adapter where there are any, else the heuristic;
//           nothing is timed.
//   'fast'  like 'cache', and op shapes missing from the cache are timed (few runs) and cached.
//   'full'  every op shape of each plan is timed again (more runs) and the cache updated.
// Timing happens in recordTuned(), called where a plan is compiled (never inside runPlan): the plan
// is recorded, the op shapes it needs are timed (tuner-trial.ts: only versions that agree with the
// heuristic's output can win), and the plan is recorded again with the choices.
import { platform } from '#platform';
import type { Gpu } from './device.js';
import type { Plan } from './plan.js';
import { adapterKey, browserStore, mergeTuning, parseTuning, type TuningStore } from './tuner-cache.js';
import { tuneOp, type TrialOptions, type TuneResult } from './tuner-trial.js';
import { tuningKey, type TunedVersions, type VersionChoice, type VersionTable } from './versions.js';

export type TuneMode = 'off' | 'cache' | 'fast' | 'full';
export const TUNE_MODES: readonly TuneMode[] = ['off', 'cache', 'fast', 'full'];

/** Timed runs per candidate (after warm-up) by mode. */
export const TUNE_REPS: Record<'fast' | 'full', { warmup: number; reps: number }> = {
  fast: { warmup: 1, reps: 3 },
  full: { warmup: 2, reps: 10 },
};

export interface TuneOptions {
  mode?: TuneMode;
  /** Where choices are cached (default: the user cache file in Node, localStorage in a page); null: nowhere. */
  store?: TuningStore | null;
  /** A cache that cannot be read or written (default console.warn): tuning goes on without it. */
  onWarning?: (message: string) => void;
  /** Each op shape timed, as it finishes (progress for a CLI). */
  onResult?: (result: TuneResult) => void;
  /** Tests only: a fake clock over the measured times (see TrialOptions.clock). */
  clock?: TrialOptions['clock'];
}

type AnyTable = VersionTable<any>;

export interface Tuning {
  readonly gpu: Gpu;
  readonly mode: TuneMode;
  readonly tables: readonly AnyTable[];
  /** The cache's key for this adapter (see adapterKey). */
  readonly adapter: string;
  readonly store: TuningStore | null;
  /** `${kernel} ${key}` → version: what plans record with (empty with 'off'). */
  readonly choices: Map<string, string>;
  /** The measurements behind the choices: from the cache, or timed in this session. */
  readonly results: Map<string, TuneResult>;
  /** Keys timed in this session (tests: a second load with a warm cache times none). */
  readonly timed: Set<string>;
  /** The versions the compiled plans recorded (describe()). */
  readonly used: Map<string, VersionChoice>;
  readonly options: TuneOptions;
  /** Tuning runs one op at a time, and cache writes one at a time. */
  chain: Promise<unknown>;
}

// The Node file store comes through #platform, so browser builds never contain it.
async function defaultStore(): Promise<TuningStore | null> {
  return (await platform.tuningFileStore()) ?? browserStore();
}

export function parseTuneMode(value: unknown, what = 'tune'): TuneMode {
  if (TUNE_MODES.includes(value as TuneMode)) return value as TuneMode;
  throw new Error(`${what} must be one of ${TUNE_MODES.map((m) => `'${m}'`).join(', ')} (got ${JSON.stringify(value)})`);
}

/** The tuning state of one model on one device: reads this adapter's cached choices (except 'off'). */
export async function openTuning(gpu: Gpu, tables: readonly AnyTable[], options: TuneOptions | TuneMode = {}): Promise<Tuning> {
  const opts: TuneOptions = typeof options === 'string' ? { mode: options } : options;
  const mode = parseTuneMode(opts.mode ?? 'cache');
  const warn = opts.onWarning ?? ((m: string) => console.warn(`internvit-webgpu: ${m}`));
  const t: Tuning = {
    gpu, mode, tables, adapter: adapterKey(gpu, tables), store: null, choices: new Map(), results: new Map(),
    timed: new Set(), used: new Map(), options: { ...opts, onWarning: warn }, chain: Promise.resolve(),
  };
  if (mode === 'off') return t;
  let store: TuningStore | null = null;
  try {
    store = opts.store !== undefined ? opts.store : await defaultStore();
  } catch (e) {
    warn(`no tuning cache (${(e as Error).message}): choices are kept for this load only`);
  }
  (t as { store: TuningStore | null }).store = store;
  if (!store) return t;
  let text: string | null = null;
  try {
    text = await store.read();
  } catch (e) {
    warn(`tuning cache ${store.location} cannot be read (${(e as Error).message}): ignored`);
  }
  const { doc, warnings } = parseTuning(text, store.location, tables);
  warnings.forEach(warn);
  for (const [k, r] of Object.entries(doc.adapters[t.adapter]?.entries ?? {})) {
    t.results.set(k, r);
    t.choices.set(k, r.choice);
  }
  return t;
}

/** What plans record with: the tuned choices, or none with 'off'. */
export function tunedVersions(t: Tuning | undefined): TunedVersions | undefined {
  return t && t.mode !== 'off' ? t.choices : undefined;
}

function needsTiming(t: Tuning, k: string): boolean {
  if (t.mode === 'fast') return !t.results.has(k);
  if (t.mode === 'full') return !t.timed.has(k);
  return false;
}

/**
 * Records a plan with the tuned choices, timing first the op shapes the mode asks for (see the file
 * comment). `record` must read the tuning's choices (tunedVersions) into the plan it makes.
 */
export async function recordTuned(t: Tuning | undefined, record: () => Plan): Promise<Plan> {
  let plan = record();
  if (!t) return plan;
  const todo = new Map<string, { table: AnyTable; shape: unknown }>();
  for (const c of plan.versionLog ?? []) {
    const k = tuningKey(c.kernel, c.key);
    const table = t.tables.find((x) => x.kernel === c.kernel);
    if (c.source !== 'explicit' && table && needsTiming(t, k)) todo.set(k, { table, shape: c.shape });
  }
  if (todo.size) {
    const done: TuneResult[] = [];
    for (const [k, { table, shape }] of todo) {
      const run = t.chain.then(async () => {
        if (!needsTiming(t, k)) return; // a concurrent compile timed it meanwhile
        const mode = t.mode as 'fast' | 'full';
        const r = await tuneOp(t.gpu, table, shape, { ...TUNE_REPS[mode], clock: t.options.clock });
        t.timed.add(k);
        t.results.set(k, r);
        t.choices.set(k, r.choice);
        done.push(r);
        t.options.onResult?.(r);
      });
      t.chain = run.catch(() => undefined);
      await run;
    }
    if (done.length) await saveTuning(t, done);
    plan = record();
  }
  for (const c of plan.versionLog ?? []) t.used.set(tuningKey(c.kernel, c.key), c);
  return plan;
}

/** Merges `results` into the stored document (re-read first: another process may have written). */
async function saveTuning(t: Tuning, results: TuneResult[]): Promise<void> {
  const store = t.store;
  if (!store) return;
  const write = t.chain.then(async () => {
    try {
      const { doc } = parseTuning(await store.read().catch(() => null), store.location, t.tables);
      await store.write(JSON.stringify(mergeTuning(doc, t.adapter, results), null, 1));
    } catch (e) {
      t.options.onWarning!(`tuning cache ${store.location} cannot be written (${(e as Error).message}): the choices hold for this load only`);
    }
  });
  t.chain = write;
  await write;
}

const ms = (x: number | undefined) => (x === undefined ? '-' : x >= 100 ? `${x.toFixed(0)} ms` : x >= 1 ? `${x.toFixed(2)} ms` : `${(x * 1000).toFixed(0)} µs`);

/** One line per op shape: "matmul M257 N384 K128 …: tiled (heuristic)" or "… tiled64 (tuned: 1.20 ms; heuristic tiled 1.50 ms)". */
export function describeChoices(choices: Iterable<VersionChoice>, t?: Tuning): string[] {
  const seen = new Map<string, VersionChoice>();
  for (const c of choices) seen.set(tuningKey(c.kernel, c.key), c);
  return [...seen].map(([k, c]) => {
    const r = t?.results.get(k);
    let how: string = c.source;
    if (c.source === 'tuned' && r) {
      const time = (v: string) => r.candidates.find((x) => x.version === v)?.ms;
      how = r.choice === r.heuristic ? `tuned: ${ms(time(r.choice))}, the heuristic's choice too` : `tuned: ${ms(time(r.choice))}; heuristic ${r.heuristic} ${ms(time(r.heuristic))}`;
    }
    return `${k}: ${c.version} (${how})`;
  });
}

/** The `internvit tune` table: per op shape every candidate with its time or why it was not timed, and the choice. */
export function formatTuneTable(results: Iterable<TuneResult>): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.kernel} ${r.key}  (${r.timing}, median of ${r.reps}, ${r.at})`);
    for (const c of r.candidates) {
      const mark = c.version === r.choice ? '*' : ' ';
      const h = c.version === r.heuristic ? ' [heuristic]' : '';
      const what = c.status === 'timed' ? ms(c.ms) : `${c.status}: ${c.why ?? ''}`;
      lines.push(`  ${mark} ${c.version.padEnd(12)} ${what}${h}`);
    }
    lines.push(`    choice: ${r.choice}`);
  }
  return lines.join('\n');
}
