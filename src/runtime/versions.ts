// Kernel versions. A kernel with several implementations of one op (tile shapes, split-K, subgroup
// or f16 variants) lists them in ONE table in its module (src/kernels/<kernel>.ts), instead of
// `version === …` branches spread through the code. The table is what the op recorder, the checks
// (src/kernels/*.check.ts), the kernel bench, selfcheck and the autotuner all read:
//   - the recorder asks chooseVersion() which version to record when the caller did not name one:
//     a tuned choice for this device when the plan carries one, else the table's heuristic;
//   - the tuner times every available version of an op shape (trial) and keeps the fastest whose
//     output agrees with the heuristic version's (a wrong-result variant can never win).
import type { Gpu } from './device.js';
import type { Plan, TensorRef } from './plan.js';

export interface KernelVersion<S> {
  /** The name used in options, check and bench names, tuning caches and describe(). */
  readonly name: string;
  /** One line: what differs and when it should win. */
  readonly summary: string;
  /** Why this version cannot run `shape` on `gpu` (a missing feature, a limit), or null when it can. */
  unavailable?(gpu: Gpu, shape: S): string | null;
}

export interface VersionTable<S> {
  /** The kernel's name ('matmul'): the prefix of tuning keys. */
  readonly kernel: string;
  readonly versions: readonly KernelVersion<S>[];
  /** The version used without tuning: a rule from the shape and the device's limits (never one GPU's timings). */
  heuristic(gpu: Gpu, shape: S): string;
  /** A stable text key of a shape, dtypes included (tuning caches are keyed by it). */
  key(shape: S): string;
  /**
   * Records one op of `shape` with `version` into `plan`, reading only plan inputs (made with
   * `input()`; the caller fills them with random data of their dtype) and weights it creates as
   * inputs too. Returns the op's output: the tuner compares it across versions, the bench times it.
   */
  trial(plan: Plan, shape: S, version: string): TensorRef;
}

/** Where a recorded version came from: named by the caller, tuned on this device, or the heuristic. */
export type ChoiceSource = 'explicit' | 'tuned' | 'heuristic';

export interface VersionChoice {
  kernel: string;
  key: string;
  version: string;
  source: ChoiceSource;
  /** The op's shape as the table's key() read it: the tuner re-creates the op from it with trial(). */
  shape: unknown;
}

/** Tuned choices a plan records with: `${kernel} ${key}` → version name. */
export type TunedVersions = ReadonlyMap<string, string>;

export function tuningKey(kernel: string, key: string): string {
  return `${kernel} ${key}`;
}

/** The versions of `table` that can run `shape` on `gpu` (the tuner's candidates). */
export function availableVersions<S>(gpu: Gpu, table: VersionTable<S>, shape: S): KernelVersion<S>[] {
  return table.versions.filter((v) => !v.unavailable?.(gpu, shape));
}

/**
 * The version an op records: `explicit` when given (an unknown or unavailable one is an error that
 * lists the alternatives), else the plan's tuned choice when it is still available, else the
 * heuristic. The choice is logged on the plan (plan.versionLog) so describe() can print it.
 */
export function chooseVersion<S>(plan: Plan, table: VersionTable<S>, shape: S, explicit?: string, label = table.kernel): string {
  const names = table.versions.map((v) => v.name);
  const log = (version: string, source: ChoiceSource): string => {
    (plan.versionLog ??= []).push({ kernel: table.kernel, key: table.key(shape), version, source, shape });
    return version;
  };
  if (explicit !== undefined) {
    const v = table.versions.find((x) => x.name === explicit);
    if (!v) throw new Error(`${label}: unknown ${table.kernel} version '${explicit}' (one of: ${names.join(', ')})`);
    const why = v.unavailable?.(plan.gpu, shape);
    if (why) throw new Error(`${label}: ${table.kernel} version '${explicit}' cannot run here: ${why}`);
    return log(explicit, 'explicit');
  }
  const tuned = plan.tunedVersions?.get(tuningKey(table.kernel, table.key(shape)));
  if (tuned !== undefined) {
    const v = table.versions.find((x) => x.name === tuned);
    if (v && !v.unavailable?.(plan.gpu, shape)) return log(tuned, 'tuned');
  }
  const h = table.heuristic(plan.gpu, shape);
  if (!names.includes(h)) throw new Error(`${table.kernel}: heuristic chose '${h}', which is not in the table (${names.join(', ')})`);
  return log(h, 'heuristic');
}
