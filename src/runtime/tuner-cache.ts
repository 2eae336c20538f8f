// The autotuner's cache: tuned choices per adapter, so a second load on the same machine times
// nothing. One JSON document (format below) in a store: a file under the user cache dir in Node
// (tuner-node-store.ts, imported only there), localStorage in browsers. The document is untrusted
// (another version of the package, a hand edit, a torn write): what does not parse is ignored with a
// warning and re-tuned, never a crash and never a version the tables do not list.
import type { Gpu } from './device.js';
import type { CandidateResult, TuneResult } from './tuner-trial.js';
import { tuningKey, type VersionTable } from './versions.js';
import { version as PACKAGE_VERSION } from '../../package.json';

export const TUNING_FORMAT = 'internvit-webgpu tuning 1';
/** Adapter entries kept in one document (the most recently updated): old package versions age out. */
const MAX_ADAPTERS = 16;

export interface TuningStore {
  /** Where the cache lives, for messages: a file path, 'localStorage', … */
  readonly location: string;
  /** The document's text, or null when there is none yet. */
  read(): Promise<string | null>;
  /** Replaces the document (atomically where the store can). */
  write(text: string): Promise<void>;
}

export interface AdapterEntry {
  updated: string;
  /** `${kernel} ${key}` → the measurement that chose it. */
  entries: Record<string, TuneResult>;
}

export interface TuningDocument {
  format: string;
  adapters: Record<string, AdapterEntry>;
}

/**
 * What a cached choice is valid for: the adapter (GPUAdapterInfo's vendor, architecture, device,
 * description), the limits the device was opened with, the package version and the kernel set
 * (every table's versions), so a new package or a new version in a table re-tunes.
 */
export function adapterKey(gpu: Gpu, tables: readonly VersionTable<any>[]): string {
  const a = gpu.adapter;
  const kernels = tables.map((t) => `${t.kernel}:${t.versions.map((v) => v.name).join(',')}`).join(' ');
  return [a.vendor, a.architecture, a.device, a.description, `limits ${gpu.limitsMode}`, `internvit-webgpu ${PACKAGE_VERSION}`, kernels].join(' | ');
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isString = (x: unknown): x is string => typeof x === 'string';
const STATUSES = new Set(['timed', 'rejected', 'unavailable', 'failed']);

function validCandidate(c: unknown): c is CandidateResult {
  return isObject(c) && isString(c.version) && STATUSES.has(c.status as string) &&
    (c.ms === undefined || (typeof c.ms === 'number' && Number.isFinite(c.ms) && c.ms >= 0)) && (c.why === undefined || isString(c.why));
}

/** A cached result is used only when it is well formed and names versions of a registered table. */
function validResult(k: string, r: unknown, tables: readonly VersionTable<any>[]): r is TuneResult {
  if (!isObject(r) || !isString(r.kernel) || !isString(r.key) || !isString(r.choice) || !isString(r.heuristic)) return false;
  if (tuningKey(r.kernel, r.key) !== k || (r.timing !== 'timestamp-query' && r.timing !== 'wall-clock') || !isString(r.at)) return false;
  if (typeof r.reps !== 'number' || !Array.isArray(r.candidates) || !r.candidates.every(validCandidate)) return false;
  const table = tables.find((t) => t.kernel === r.kernel);
  const names = new Set(table?.versions.map((v) => v.name));
  // The choice must have been timed: a rejected version in a tampered file is never taken.
  return !!table && names.has(r.choice) && r.candidates.some((c) => c.version === r.choice && c.status === 'timed');
}

/**
 * Parses a stored document. Never throws: a document that is not ours or not JSON gives an empty
 * one and a warning; entries that are malformed are dropped with one warning saying how many.
 */
export function parseTuning(text: string | null, location: string, tables: readonly VersionTable<any>[]): { doc: TuningDocument; warnings: string[] } {
  const empty = (): TuningDocument => ({ format: TUNING_FORMAT, adapters: {} });
  if (text === null) return { doc: empty(), warnings: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { doc: empty(), warnings: [`tuning cache ${location} is not valid JSON (${(e as Error).message}): ignored (tune 'fast' or 'full' rewrites it)`] };
  }
  if (!isObject(raw) || raw.format !== TUNING_FORMAT || !isObject(raw.adapters)) {
    return { doc: empty(), warnings: [`tuning cache ${location} is not an '${TUNING_FORMAT}' document: ignored (tune 'fast' or 'full' rewrites it)`] };
  }
  const doc = empty();
  let dropped = 0;
  for (const [key, a] of Object.entries(raw.adapters)) {
    if (!isObject(a) || !isObject(a.entries)) {
      dropped++;
      continue;
    }
    const entries: Record<string, TuneResult> = {};
    for (const [k, r] of Object.entries(a.entries)) {
      if (validResult(k, r, tables)) entries[k] = r;
      else dropped++;
    }
    doc.adapters[key] = { updated: isString(a.updated) ? a.updated : '', entries };
  }
  const warnings = dropped ? [`tuning cache ${location}: ${dropped} malformed or unknown entr${dropped === 1 ? 'y' : 'ies'} ignored`] : [];
  return { doc, warnings };
}

/** `doc` with `results` merged into the adapter's entry, the oldest adapters beyond MAX_ADAPTERS dropped. */
export function mergeTuning(doc: TuningDocument, adapter: string, results: Iterable<TuneResult>): TuningDocument {
  const entries = { ...(doc.adapters[adapter]?.entries ?? {}) };
  for (const r of results) entries[tuningKey(r.kernel, r.key)] = r;
  const adapters = { ...doc.adapters, [adapter]: { updated: new Date().toISOString(), entries } };
  const keep = Object.entries(adapters).sort((a, b) => b[1].updated.localeCompare(a[1].updated)).slice(0, MAX_ADAPTERS);
  return { format: TUNING_FORMAT, adapters: Object.fromEntries(keep) };
}

/** The localStorage item browsers keep the tuning document in. */
export const TUNING_STORAGE_KEY = 'internvit-webgpu:tuning';

/**
 * The browser's store: localStorage where the page has it; in a worker (no localStorage) IndexedDB;
 * else null, and choices live for the load only.
 */
export function browserStore(key = TUNING_STORAGE_KEY): TuningStore | null {
  return localStorageStore(key) ?? indexedDbStore();
}

export function localStorageStore(key = TUNING_STORAGE_KEY): TuningStore | null {
  let ls: Storage | undefined;
  try {
    ls = (globalThis as { localStorage?: Storage }).localStorage;
  } catch {
    ls = undefined; // a sandboxed page throws on access
  }
  if (!ls) return null;
  const storage = ls;
  return {
    location: `localStorage['${key}']`,
    read: async () => storage.getItem(key),
    write: async (text) => storage.setItem(key, text),
  };
}

/** The document as one value in IndexedDB (database 'internvit-webgpu-tuning'): workers have it. */
export function indexedDbStore(dbName = 'internvit-webgpu-tuning', storeName = 'tuning', key = 'document'): TuningStore | null {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!idb) return null;
  const request = <T>(r: IDBRequest<T>) => new Promise<T>((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
  const withStore = async <T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> => {
    const open = idb.open(dbName, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(storeName);
    const db = await request(open);
    try {
      const tx = db.transaction(storeName, mode);
      const done = new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      });
      const result = await request(fn(tx.objectStore(storeName)));
      await done;
      return result;
    } finally {
      db.close();
    }
  };
  return {
    location: `IndexedDB '${dbName}'`,
    read: async () => {
      const v = await withStore('readonly', (s) => s.get(key));
      return typeof v === 'string' ? v : null;
    },
    write: async (text) => {
      await withStore('readwrite', (s) => s.put(text, key));
    },
  };
}

/** A store in memory (tests, or a caller that keeps choices itself). */
export function memoryTuningStore(initial: string | null = null): TuningStore & { text: string | null } {
  const s = {
    location: 'memory',
    text: initial,
    read: async () => s.text,
    write: async (text: string) => {
      s.text = text;
    },
  };
  return s;
}
