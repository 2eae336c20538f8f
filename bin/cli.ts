// What every internvit subcommand shares: flag parsing (node:util parseArgs), user errors, stderr
// logging, timers, the GPU's lifetime, and writing safetensors outputs.
import { rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  destroyGpu, getGpu, LIMITS_MODES, PRECISIONS, resolveLimitsMode, TUNE_MODES, WEIGHT_STORAGES, writeSafetensors,
  type Gpu, type LimitsMode, type Precision, type TuneMode, type TuneOptions, type WeightStorage, type WriteTensor,
} from '../src/internal.js';

/** An error the user can fix (bad flag, missing file, wrong tensor): one line, no stack. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

/** Wrong use of the command line itself (exit code 2). */
export const usageError = (message: string): CliError => new CliError(message, 2);

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;
/** A `multiple` string flag gives string[] (read it with listFlag). */
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** Parses `args` strictly (unknown flags and stray arguments are errors); null when --help was asked for. */
export function parseFlags(command: string, args: string[], options: FlagSpec): FlagValues | null {
  let values: FlagValues;
  try {
    ({ values } = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
  } catch (e) {
    const err = e as Error & { code?: string };
    const see = `see "internvit ${command} --help"`;
    const unknown = err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && /'([^']+)'/.exec(err.message)?.[1];
    if (unknown) throw usageError(`${command}: unknown option ${unknown} (${see})`);
    const stray = err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && /'([^']+)'/.exec(err.message)?.[1];
    if (stray) throw usageError(`${command}: unexpected argument '${stray}' (${see})`);
    throw usageError(`${command}: ${err.message} (${see})`);
  }
  return values.help ? null : values;
}

export function stringFlag(values: FlagValues, name: string): string | undefined {
  const v = values[name];
  if (typeof v !== 'string') return undefined;
  if (v === '') throw usageError(`--${name} needs a value`);
  return v;
}

/** A repeatable string flag (`multiple: true` in its spec): every value, in order. */
export function listFlag(values: FlagValues, name: string): string[] {
  const v = values[name];
  const list = v === undefined ? [] : Array.isArray(v) ? v : [String(v)];
  if (list.some((x) => x === '')) throw usageError(`--${name} needs a value`);
  return list;
}

export function requireFlag(command: string, values: FlagValues, name: string, what: string): string {
  const v = stringFlag(values, name);
  if (v === undefined) throw usageError(`${command}: --${name} ${what} is required (see "internvit ${command} --help")`);
  return v;
}

/** --weights: how linear-layer weights are kept on the GPU (WeightStorage); undefined when not given. */
export function weightsFlag(values: FlagValues): WeightStorage | undefined {
  const v = stringFlag(values, 'weights');
  if (v === undefined) return undefined;
  if (!(WEIGHT_STORAGES as readonly string[]).includes(v)) throw usageError(`--weights must be one of ${WEIGHT_STORAGES.join(', ')} (got '${v}')`);
  return v as WeightStorage;
}

/**
 * --limits: which device limits to request (LimitsMode); undefined when not given, and then env
 * INTERNVIT_LIMITS (checked here, before any GPU work) or 'adapter' applies.
 */
export function limitsFlag(values: FlagValues): LimitsMode | undefined {
  const v = stringFlag(values, 'limits');
  if (v === undefined) {
    try {
      resolveLimitsMode();
    } catch (e) {
      throw usageError((e as Error).message);
    }
    return undefined;
  }
  if (!(LIMITS_MODES as readonly string[]).includes(v)) throw usageError(`--limits must be one of ${LIMITS_MODES.join(', ')} (got '${v}')`);
  return v as LimitsMode;
}

export const LIMITS_USAGE = `    --limits L        device limits: adapter (the adapter's maxima, default) or default (WebGPU's defaults,
                      as on constrained browsers); env INTERNVIT_LIMITS sets the default`;

export const WEIGHTS_USAGE = `    --weights W       linear-layer weights on the GPU: auto (as in the checkpoint, default), f32, bf16, f16,
                      int8 (a scale per output channel), int4 (a scale and zero point per 64 input channels; README § Quantized weights)`;

/** --precision: f32 (default), f16 or auto (Precision); undefined when not given. */
export function precisionFlag(values: FlagValues): Precision | undefined {
  const v = stringFlag(values, 'precision');
  if (v === undefined) return undefined;
  if (!(PRECISIONS as readonly string[]).includes(v)) throw usageError(`--precision must be one of ${PRECISIONS.join(', ')} (got '${v}')`);
  return v as Precision;
}

export const PRECISION_USAGE = `    --precision P     arithmetic: f32 (default, exact parity), f16 (f16 activations, f32 sums; needs shader-f16), auto (f16 where available)`;

/** --tune: kernel-version tuning (TuneMode, default 'cache'); warnings and each op shape timed go to stderr. */
export function tuneFlag(values: FlagValues, io: Io): TuneOptions {
  const v = stringFlag(values, 'tune') ?? 'cache';
  if (!(TUNE_MODES as readonly string[]).includes(v)) throw usageError(`--tune must be one of ${TUNE_MODES.join(', ')} (got '${v}')`);
  return {
    mode: v as TuneMode,
    onWarning: (m) => io.err(`warning: ${m}`),
    onResult: (r) => io.err(`tuned ${r.kernel} ${r.key}: ${r.choice} (${r.candidates.filter((c) => c.status === 'timed').length} of ${r.candidates.length} versions timed, ${r.timing})`),
  };
}

export const TUNE_USAGE = `    --tune T          kernel versions: cache (this adapter's tuned choices if cached, else the heuristics;
                      default), off (heuristics, cache ignored), fast (time op shapes missing from the
                      cache), full (time every op shape again); see "internvit tune"`;

export function intFlag(values: FlagValues, name: string, min = 1): number | undefined {
  const v = stringFlag(values, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min) {
    throw usageError(`--${name} must be an integer ≥ ${min} (got '${v}')`);
  }
  return n;
}

/**
 * Where a command writes, and the device it may borrow. Progress, timings and the adapter go to `err`
 * (stderr); `out` (stdout) carries the reports of `info`, `run` and --help.
 */
export interface Io {
  out(line?: string): void;
  err(line?: string): void;
  /** A device to use instead of acquiring (and destroying) one: a host program, or tests sharing pipelines. */
  gpu?: Gpu;
}

export const processIo: Io = {
  out: (line = '') => { process.stdout.write(`${line}\n`); },
  err: (line = '') => { process.stderr.write(`${line}\n`); },
};

export function now(): number {
  return performance.now();
}

export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 1 : 2)} s`;
  return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} ms`;
}

/** GFLOP with sensible digits from tiny test models to the 6B. */
export function formatGflop(g: number): string {
  return g >= 100 ? g.toFixed(1) : g >= 1 ? g.toFixed(2) : String(Number(g.toPrecision(3)));
}

export function shapeText(shape: readonly number[]): string {
  return `(${shape.join(', ')})`;
}

/** Error text on one line (multi-line library messages are joined). */
export function oneLine(message: string): string {
  return message.split('\n').map((s) => s.trim()).filter(Boolean).join('; ');
}

// GPUs this process holds: destroyed on every exit path (Dawn aborts at exit if a device is alive).
const liveGpus = new Set<Gpu>();

/**
 * Runs `work` on io.gpu, or on a device acquired for it (with `limits`) and destroyed after. A
 * borrowed device must have been opened with the limits asked for.
 */
export async function withGpu<T>(io: Io, work: (gpu: Gpu) => Promise<T>, limits?: LimitsMode): Promise<T> {
  if (io.gpu) {
    if (limits !== undefined && io.gpu.limitsMode !== limits) {
      throw new CliError(`--limits ${limits} was asked for, but the device this command was given has limits '${io.gpu.limitsMode}'`);
    }
    return work(io.gpu);
  }
  const gpu = await getGpu({ limits });
  liveGpus.add(gpu);
  try {
    return await work(gpu);
  } finally {
    liveGpus.delete(gpu);
    destroyGpu(gpu);
  }
}

export function destroyAllGpus(): void {
  for (const gpu of liveGpus) {
    try {
      destroyGpu(gpu);
    } catch { /* already gone */ }
  }
  liveGpus.clear();
}

/** Fails early (before any GPU work) when the output cannot be written there. */
export async function checkOutputPath(path: string): Promise<void> {
  const dir = dirname(resolve(path));
  const d = await stat(dir).catch(() => null);
  if (!d) throw new CliError(`--output ${path}: folder ${dir} does not exist`);
  if (!d.isDirectory()) throw new CliError(`--output ${path}: ${dir} is not a folder`);
  const f = await stat(path).catch(() => null);
  if (f?.isDirectory()) throw new CliError(`--output ${path} is a folder; give a file name such as ${path.replace(/\/+$/, '')}/out.safetensors`);
}

export interface F32Output {
  shape: readonly number[];
  data: Float32Array;
}

/**
 * Writes F32 tensors (in the given order), then any `extra` tensors of other dtypes, as safetensors;
 * a temporary file is renamed into place.
 */
export async function writeOutput(path: string, tensors: Record<string, F32Output>, metadata: Record<string, string> = {}, extra: Record<string, WriteTensor> = {}): Promise<void> {
  const spec = { ...Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, { dtype: 'F32' as const, shape: t.shape, data: t.data }])), ...extra };
  const bytes = writeSafetensors(spec, metadata);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new CliError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

export function outputSummary(path: string, tensors: Record<string, F32Output>): string {
  const names = Object.keys(tensors);
  const shown = names.length > 4 ? [...names.slice(0, 3), `… ${names.length - 3} more`] : names;
  const bytes = names.reduce((a, n) => a + tensors[n]!.data.byteLength, 0);
  return `wrote ${path}: ${shown.map((n) => (n.startsWith('…') ? n : `${n} ${shapeText(tensors[n]!.shape)}`)).join(', ')} (F32, ${(bytes / 1e6).toFixed(2)} MB)`;
}
