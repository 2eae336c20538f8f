// Where checkpoints come from: a local folder (Node), a URL prefix (fetch + Range requests, browser
// and Node), a Hugging Face model id, or files already in memory / Blobs (browser file pickers).
// openCheckpoint() reads config.json and only the safetensors headers (single file or an index +
// shards); tensor bytes are read later, one range at a time, by whoever needs them (weights.ts).
//
// How a string is resolved (resolveStore):
//   'http://…', 'https://…'       URL prefix (the folder that holds config.json)
//   'hf://org/name'               Hugging Face model id, always
//   Node: an existing local path  local folder: an existing folder wins over a hub id of the same spelling
//   'org/name'                    Hugging Face model id ({hubUrl}/{id}/resolve/{revision}/{file})
//   Node: anything else           error (no such folder)
//   browser: anything else        URL relative to the page ('./models/x' forces this for 'org/name' shapes)
// node:fs comes from `#platform` (src/platform/), in the Node branch only: the browser build has none.
import type { FileHandle } from 'node:fs/promises';
import { platform } from '#platform';
import {
  readSafetensorsHeader, SafetensorsError, type ByteSource, type SafetensorsHeader, type TensorInfo,
} from './safetensors.js';
import { toFloat32 } from './dtype.js';
import { abortReason, isAbortError, sleep, throwIfAborted } from './abort.js';
import { streamReader, type StreamReader } from './stream-reader.js';
import { cachedStore, resolveCache } from './weight-cache.js';

export class FileNotFoundError extends Error {
  constructor(readonly file: string, detail = 'no such file') {
    super(`${file}: ${detail}`);
    this.name = 'FileNotFoundError';
  }
}

/** A folder of checkpoint files, wherever it lives. */
export interface CheckpointStore {
  /** The folder path or URL prefix, for messages. */
  readonly location: string;
  /** A source for one file (relative name); size()/read() reject with FileNotFoundError if it is missing. */
  open(file: string): ByteSource;
  /** A small file as text (config.json, the shard index), or null when it does not exist. */
  readText(file: string): Promise<string | null>;
  /** After a successful load: finish what is worth keeping (the weight cache reads the rest of each file). */
  complete?(): Promise<void>;
  close?(): Promise<void>;
}

export interface SourceOptions {
  /** fetch to use for URLs and hub ids (default: globalThis.fetch). */
  fetch?: typeof fetch;
  /** Hub base URL (default https://huggingface.co); tests point it at a local server. */
  hubUrl?: string;
  /** Hub branch, tag or commit (default 'main'). */
  revision?: string;
  /** Hugging Face access token for gated or private repositories. */
  token?: string;
  /**
   * Keep files fetched from URLs and hub ids in the browser's Cache Storage, so the next load reads
   * them from there (see weight-cache.ts). Default: on where Cache Storage exists (browsers, secure
   * contexts), off in Node. false: always the network; a CacheStorage: use that one.
   */
  cache?: boolean | CacheStorage;
  /** Aborts network reads (and, in uploadWeights, the upload) with an AbortError. */
  signal?: AbortSignal;
}

export interface OpenProgress { stage: 'open'; filesDone: number; filesTotal: number; file: string }
export interface WeightsProgress {
  stage: 'weights'; bytesDone: number; bytesTotal: number; tensor?: string;
  /** Of bytesDone, the bytes read from the weight cache and from the network (local files count in neither). */
  bytesFromCache: number; bytesFromNetwork: number;
}
export type LoadProgress = OpenProgress | WeightsProgress;

export interface OpenCheckpointOptions extends SourceOptions {
  /** Called after each safetensors header is read; kept on the checkpoint as uploadWeights' default. */
  onProgress?: (p: LoadProgress) => void;
  /**
   * Tensors under these prefixes are left out of `tensors` and never read; shards holding only such
   * tensors are not even opened. Default ['language_model.']: InternVL chat checkpoints carry the LLM.
   */
  skipPrefixes?: string[];
}

export interface Checkpoint {
  store: CheckpointStore;
  location: string;
  /** config.json parsed as JSON (not yet validated: see model/config.ts), or null when absent. */
  config: unknown;
  /** Path or URL of config.json, for messages. */
  configFile: string;
  /** Weight files opened (relative names). */
  files: string[];
  /** Every tensor that can be read, by name (skipped prefixes excluded). */
  tensors: Map<string, TensorInfo>;
  /** Names left out by skipPrefixes. */
  skipped: string[];
  onProgress?: (p: LoadProgress) => void;
  /** The file a tensor lives in (ranges of it are read by weights.ts). */
  sourceOf(name: string): ByteSource;
  info(name: string): TensorInfo;
  /** The tensor's raw bytes. */
  read(name: string): Promise<Uint8Array>;
  readFloat32(name: string): Promise<Float32Array>;
  close(): Promise<void>;
}

export const CONFIG_FILE = 'config.json';
/**
 * config.json and the shard index are read whole: larger ones are refused before they are read
 * (real ones are a few KB; the index of a 76B model is well under 1 MB).
 */
export const MAX_TEXT_BYTES = 16 * 2 ** 20;

function textTooLarge(file: string, bytes: number | string): Error {
  return new Error(`${file}: ${bytes} bytes is too large for a JSON file (limit ${MAX_TEXT_BYTES}; corrupt or not a checkpoint file)`);
}
export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

// ---------------------------------------------------------------- local files (Node)

type NodeFs = typeof import('node:fs/promises');
let fsModule: Promise<NodeFs> | null = null;
function nodeFs(): Promise<NodeFs> {
  if (!isNode) return Promise.reject(new Error('local files can only be read in Node; in the browser use a URL, a hub id or memoryStore'));
  return (fsModule ??= platform.fs());
}

/** One local file, read with positioned reads (the file is never read whole). */
export function fileSource(path: string): ByteSource {
  let handle: Promise<FileHandle> | null = null;
  let size: number | undefined;
  const open = () => (handle ??= nodeFs().then((fs) => fs.open(path, 'r')).catch((e: NodeJS.ErrnoException) => {
    handle = null;
    throw e.code === 'ENOENT' ? new FileNotFoundError(path) : new Error(`${path}: ${e.message}`);
  }));
  return {
    name: path,
    async size() {
      if (size === undefined) size = (await (await open()).stat()).size;
      return size;
    },
    async read(offset, length) {
      const fh = await open();
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new Error(`${path}: read of ${length} bytes at ${offset} ends after ${done} bytes (file truncated?)`);
        done += bytesRead;
      }
      return out;
    },
    async close() {
      const h = handle;
      handle = null;
      if (h) await (await h.catch(() => null))?.close();
    },
  };
}

/** A local folder (Node). */
export function folderStore(dir: string): CheckpointStore {
  const base = dir.replace(/[\\/]+$/, '');
  const sources = new Map<string, ByteSource>();
  return {
    location: base,
    open(file) {
      let s = sources.get(file);
      if (!s) sources.set(file, (s = fileSource(`${base}/${file}`)));
      return s;
    },
    async readText(file) {
      const fs = await nodeFs();
      const path = `${base}/${file}`;
      const fail = (e: unknown) => {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new Error(`${path}: ${(e as Error).message}`);
      };
      const stat = await fs.stat(path).catch(fail);
      if (!stat) return null;
      if (stat.size > MAX_TEXT_BYTES) throw textTooLarge(path, stat.size);
      return fs.readFile(path, 'utf8').catch(fail);
    },
    async close() {
      await Promise.all([...sources.values()].map((s) => s.close?.()));
      sources.clear();
    },
  };
}

// ---------------------------------------------------------------- URLs (fetch + Range)

export interface UrlOptions { fetch?: typeof fetch; headers?: Record<string, string>; signal?: AbortSignal }

const RETRIES = 2;

async function fetchWithRetry(f: typeof fetch, url: string, init: RequestInit): Promise<Response> {
  const signal = init.signal ?? undefined;
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(signal);
    try {
      const res = await f(url, init);
      if (res.status >= 500 && attempt < RETRIES) {
        await res.body?.cancel();
        await sleep(200 * 2 ** attempt, signal);
        continue;
      }
      return res;
    } catch (e) {
      if (signal?.aborted) throw abortReason(signal);
      if (isAbortError(e)) throw e;
      if (attempt >= RETRIES) throw new Error(`${url}: ${(e as Error).message}`);
      await sleep(200 * 2 ** attempt, signal);
    }
  }
}

function httpError(url: string, res: Response): Error {
  if (res.status === 404 || res.status === 410) return new FileNotFoundError(url, `HTTP ${res.status} (no such file)`);
  if (res.status === 401 || res.status === 403) {
    return new Error(`${url}: HTTP ${res.status}: the repository does not exist, is private, or is gated (pass a token)`);
  }
  return new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
}

/** What a server says about a file: its size, and the validators the weight cache records. */
export interface UrlFileInfo { size: number; etag: string | null; sha256: string | null }

/** A file behind a URL, with what the weight cache needs besides reads. */
export interface UrlSource extends ByteSource {
  /** Size and validators, from HEAD (or a 1-byte range). */
  info(): Promise<UrlFileInfo>;
  /**
   * A new GET of the file from byte `from` to its end (`Range: bytes=from-` when from > 0): the body,
   * the file offset it starts at (`from`, or 0 from a server that ignores Range) and the ETag.
   */
  openFrom(from: number): Promise<{ body: ReadableStream<Uint8Array>; offset: number; etag: string | null }>;
  /** 'range' (one Range request per read), 'stream' (the server ignores Range: one sequential read), or not yet known. */
  readonly mode: 'unknown' | 'range' | 'stream';
  close(): Promise<void>;
}

/** The hub's x-linked-etag of an LFS file (or a plain ETag of 64 hex digits) is the file's sha256. */
function sha256Of(res: Response): string | null {
  const tag = (res.headers.get('x-linked-etag') ?? res.headers.get('etag') ?? '').replace(/^W\//, '').replace(/"/g, '');
  return /^[0-9a-f]{64}$/i.test(tag) ? tag.toLowerCase() : null;
}

/**
 * A file behind a URL: size from HEAD (or a 1-byte range), each read one Range request. A server
 * that answers a Range request with the whole file (200, e.g. python -m http.server) is read once,
 * sequentially, from that response on (stream-reader.ts), not again from byte 0 for every read.
 */
export function urlSource(url: string, opts: UrlOptions = {}): UrlSource {
  const f = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const headers = opts.headers ?? {};
  const signal = opts.signal;
  let info: Promise<UrlFileInfo> | null = null;
  let mode: UrlSource['mode'] = 'unknown';
  let stream: StreamReader | null = null;

  const openFrom = async (from: number) => {
    const res = await fetchWithRetry(f, url, { headers: from > 0 ? { ...headers, Range: `bytes=${from}-` } : headers, signal });
    const etag = res.headers.get('etag');
    if (res.status === 416) {
      // Nothing left after `from` (a stream that broke at the very end).
      await res.body?.cancel();
      return { body: new ReadableStream<Uint8Array>({ start: (c) => c.close() }), offset: from, etag };
    }
    if (!res.ok) throw httpError(url, res);
    if (!res.body) throw new Error(`${url}: response has no body`);
    let offset = 0;
    if (res.status === 206) {
      offset = Number(res.headers.get('content-range')?.match(/bytes\s+(\d+)-/)?.[1] ?? NaN);
      if (offset !== from) {
        await res.body.cancel();
        throw new Error(`${url}: asked for bytes from ${from}, the server sent them from ${offset}`);
      }
    }
    return { body: res.body, offset, etag };
  };
  const sequential = (first?: ReadableStream<Uint8Array>) => {
    mode = 'stream';
    return (stream ??= streamReader({ name: url, first, open: openFrom, signal }));
  };

  async function probe(): Promise<UrlFileInfo> {
    const head = await fetchWithRetry(f, url, { method: 'HEAD', headers, signal });
    if (head.status === 404 || head.status === 410 || head.status === 401 || head.status === 403) throw httpError(url, head);
    const len = head.headers.get('content-length');
    const etag = head.headers.get('etag');
    if (head.headers.get('accept-ranges')?.trim().toLowerCase() === 'none') mode = 'stream';
    if (head.ok && len !== null && !head.headers.get('content-encoding')) {
      return { size: Number(head.headers.get('x-linked-size') ?? len), etag, sha256: sha256Of(head) };
    }
    // HEAD refused or without a length: ask for one byte and read the total from Content-Range.
    const res = await fetchWithRetry(f, url, { headers: { ...headers, Range: 'bytes=0-0' }, signal });
    if (!res.ok) throw httpError(url, res);
    const total = res.headers.get('content-range')?.match(/\/(\d+)\s*$/)?.[1];
    const whole = res.headers.get('content-length');
    const found = { etag: res.headers.get('etag'), sha256: sha256Of(res) };
    if (res.status === 206 && total) {
      await res.body?.cancel();
      return { size: Number(total), ...found };
    }
    if (res.status === 200 && whole !== null && res.body) {
      sequential(res.body); // the whole file is coming: the first reads are served from it
      return { size: Number(whole), ...found };
    }
    await res.body?.cancel();
    throw new Error(`${url}: the server reports no file size (no Content-Length or Content-Range)`);
  }

  const getInfo = () => (info ??= probe().catch((e) => { info = null; throw e; }));
  return {
    name: url,
    origin: 'network',
    get mode() { return mode; },
    info: getInfo,
    size: async () => (await getInfo()).size,
    openFrom,
    async read(offset, length) {
      if (length === 0) return new Uint8Array(0);
      if (mode === 'stream') return sequential().read(offset, length);
      const res = await fetchWithRetry(f, url, { headers: { ...headers, Range: `bytes=${offset}-${offset + length - 1}` }, signal });
      if (res.status === 416) {
        await res.body?.cancel();
        throw new Error(`${url}: bytes ${offset}..${offset + length} are beyond the end of the file (HTTP 416; truncated?)`);
      }
      if (!res.ok) throw httpError(url, res);
      if (res.status === 206) {
        mode = 'range';
        const start = res.headers.get('content-range')?.match(/bytes\s+(\d+)-/)?.[1];
        if (start !== undefined && Number(start) !== offset) {
          await res.body?.cancel();
          throw new Error(`${url}: asked for bytes from ${offset}, the server sent them from ${start}`);
        }
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (bytes.byteLength !== length) {
          throw new Error(`${url}: got ${bytes.byteLength} of ${length} bytes at ${offset} (file truncated?)`);
        }
        return bytes;
      }
      // The server ignored Range: this response is the whole file; read it (and later reads) sequentially.
      if (!res.body) throw new Error(`${url}: response has no body`);
      if (stream) {
        await res.body.cancel();
        return stream.read(offset, length);
      }
      return sequential(res.body).read(offset, length);
    },
    async close() {
      const s = stream;
      stream = null;
      await s?.cancel();
    },
  };
}

/** A folder behind a URL prefix ('https://host/models/internvit/'). */
export function urlStore(prefix: string, opts: UrlOptions = {}, location?: string): CheckpointStore {
  const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
  const f = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const sources = new Map<string, UrlSource>();
  const urlOf = (file: string) => new URL(file, base).href;
  return {
    location: location ?? base,
    open(file) {
      let s = sources.get(file);
      if (!s) sources.set(file, (s = urlSource(urlOf(file), opts)));
      return s;
    },
    async readText(file) {
      const url = urlOf(file);
      const res = await fetchWithRetry(f, url, { headers: opts.headers ?? {}, signal: opts.signal });
      if (res.status === 404 || res.status === 410) {
        await res.body?.cancel();
        return null;
      }
      if (!res.ok) throw httpError(url, res);
      return cappedText(url, res);
    },
    async close() {
      await Promise.all([...sources.values()].map((s) => s.close?.()));
      sources.clear();
    },
  };
}

/** A response body as text, refused once it passes MAX_TEXT_BYTES (a declared length is checked first). */
async function cappedText(url: string, res: Response): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > MAX_TEXT_BYTES && !res.headers.get('content-encoding')) {
    await res.body?.cancel();
    throw textTooLarge(url, declared);
  }
  if (!res.body) return res.text();
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_TEXT_BYTES) {
      await reader.cancel().catch(() => {});
      throw textTooLarge(url, `more than ${MAX_TEXT_BYTES}`);
    }
    parts.push(value);
  }
  return new TextDecoder().decode(await new Blob(parts as BlobPart[]).arrayBuffer());
}

export const DEFAULT_HUB_URL = 'https://huggingface.co';

/** A Hugging Face model repository: files at {hubUrl}/{id}/resolve/{revision}/{file}. */
export function hubStore(id: string, opts: SourceOptions = {}): CheckpointStore {
  if (!isHubId(id)) throw new Error(`'${id}' is not a Hugging Face model id (expected "org/name")`);
  const hub = (opts.hubUrl ?? DEFAULT_HUB_URL).replace(/\/+$/, '');
  const prefix = `${hub}/${id}/resolve/${encodeURIComponent(opts.revision ?? 'main')}/`;
  const headers: Record<string, string> = opts.token ? { Authorization: `Bearer ${opts.token}` } : {};
  return withCache(urlStore(prefix, { fetch: opts.fetch, headers, signal: opts.signal }, `${id} (${prefix})`), prefix, opts);
}

const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function isHubId(s: string): boolean {
  return HUB_ID.test(s) && !s.includes('..');
}

// ---------------------------------------------------------------- memory and Blobs

/** A Blob or File (browser file pickers, drag and drop): reads are Blob slices. */
export function blobSource(blob: Blob, name: string): ByteSource {
  return {
    name,
    size: async () => blob.size,
    async read(offset, length) {
      if (offset + length > blob.size) throw new Error(`${name}: read of ${length} bytes at ${offset} is beyond the ${blob.size}-byte file (truncated?)`);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
}

/** Files already in memory or picked by the user, by relative name. */
export function memoryStore(files: Record<string, Uint8Array | Blob>, location = 'memory'): CheckpointStore {
  const named = (file: string) => `${location}/${file}`;
  return {
    location,
    open(file) {
      const data = files[file];
      const name = named(file);
      if (data === undefined) {
        const missing = () => Promise.reject(new FileNotFoundError(name));
        return { name, size: missing, read: missing };
      }
      if (data instanceof Uint8Array) {
        return {
          name,
          size: async () => data.byteLength,
          async read(offset, length) {
            if (offset + length > data.byteLength) throw new Error(`${name}: read of ${length} bytes at ${offset} is beyond the ${data.byteLength}-byte file (truncated?)`);
            return data.slice(offset, offset + length);
          },
        };
      }
      return blobSource(data, name);
    },
    async readText(file) {
      const data = files[file];
      if (data === undefined) return null;
      const size = data instanceof Uint8Array ? data.byteLength : data.size;
      if (size > MAX_TEXT_BYTES) throw textTooLarge(named(file), size);
      return data instanceof Uint8Array ? new TextDecoder().decode(data) : data.text();
    },
  };
}

// ---------------------------------------------------------------- resolving and opening

/** Turns a folder path, URL, hub id or store into a store (rules at the top of this file). */
export async function resolveStore(spec: string | CheckpointStore, opts: SourceOptions = {}): Promise<CheckpointStore> {
  if (typeof spec !== 'string') return spec;
  if (/^https?:\/\//i.test(spec)) return withCache(urlStore(spec, { fetch: opts.fetch, signal: opts.signal }), spec, opts);
  if (spec.startsWith('hf://')) return hubStore(spec.slice('hf://'.length).replace(/\/+$/, ''), opts);
  if (isNode) {
    const fs = await nodeFs();
    const st = await fs.stat(spec).catch(() => null);
    if (st?.isDirectory()) return folderStore(spec);
    if (st) throw new Error(`${spec} is a file: give the folder that holds config.json and the .safetensors weights`);
    if (isHubId(spec)) return hubStore(spec, opts);
    throw new Error(`${spec}: no such folder, and not a URL or a Hugging Face model id ("org/name")`);
  }
  if (isHubId(spec)) return hubStore(spec, opts);
  const page = (globalThis as { location?: { href: string } }).location?.href;
  const url = new URL(spec, page).href;
  return withCache(urlStore(url, { fetch: opts.fetch, signal: opts.signal }), url, opts);
}

/** The store behind the weight cache when one is in use (option `cache`; browsers by default). */
function withCache(store: CheckpointStore, prefix: string, opts: SourceOptions): CheckpointStore {
  const cache = resolveCache(opts.cache);
  return cache ? cachedStore(store, { cache, model: prefix.endsWith('/') ? prefix : `${prefix}/`, signal: opts.signal }) : store;
}

/**
 * Opens a checkpoint: config.json (optional) and the safetensors headers of model.safetensors, or of
 * the shards listed by model.safetensors.index.json. No tensor data is read.
 */
export async function openCheckpoint(spec: string | CheckpointStore, opts: OpenCheckpointOptions = {}): Promise<Checkpoint> {
  const store = await resolveStore(spec, opts);
  const skipPrefixes = opts.skipPrefixes ?? ['language_model.'];
  const skip = (name: string) => skipPrefixes.some((p) => name.startsWith(p));
  const at = (file: string) => store.open(file).name;
  try {
    const configText = await store.readText(CONFIG_FILE);
    let config: unknown = null;
    if (configText !== null) {
      try {
        config = JSON.parse(configText);
      } catch (e) {
        throw new Error(`${at(CONFIG_FILE)}: not valid JSON (${(e as Error).message})`);
      }
    }

    // Which files, and which tensor each holds according to the index (null: a single file).
    let files: string[];
    let weightMap: Map<string, string> | null = null;
    const skipped: string[] = [];
    if (await exists(store.open(SINGLE_FILE))) {
      files = [SINGLE_FILE];
    } else {
      const indexText = await store.readText(INDEX_FILE);
      if (indexText === null) throw await noWeightsError(store);
      weightMap = parseIndex(indexText, at(INDEX_FILE));
      const needed = new Set<string>();
      for (const [name, file] of weightMap) {
        if (skip(name)) skipped.push(name);
        else needed.add(file);
      }
      files = [...needed];
    }

    let filesDone = 0;
    // allSettled: no header read may still be running when a failure closes the store.
    const settled = await Promise.allSettled(files.map(async (file) => {
      const h = await readSafetensorsHeader(store.open(file)).catch((e) => {
        if (e instanceof FileNotFoundError && weightMap) {
          throw new FileNotFoundError(e.file, `no such file (listed in ${INDEX_FILE})`);
        }
        throw e;
      });
      opts.onProgress?.({ stage: 'open', filesDone: ++filesDone, filesTotal: files.length, file });
      return [file, h] as const;
    }));
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const headers = settled.map((r) => (r as PromiseFulfilledResult<readonly [string, SafetensorsHeader]>).value);

    const tensors = new Map<string, TensorInfo>();
    const fileOf = new Map<string, string>();
    for (const [file, h] of headers) addTensors(h, file, weightMap, skip, skipped, tensors, fileOf);
    if (weightMap) {
      for (const [name, file] of weightMap) {
        if (!skip(name) && !tensors.has(name)) {
          throw new SafetensorsError(at(file), name, `listed in ${INDEX_FILE} but not in this shard's header`);
        }
      }
    }

    const info = (name: string): TensorInfo => {
      const t = tensors.get(name);
      if (!t) throw new Error(`${store.location}: no tensor '${name}' in the checkpoint`);
      return t;
    };
    const sourceOf = (name: string) => store.open(fileOf.get(info(name).name)!);
    const read = async (name: string) => {
      const t = info(name);
      const bytes = await sourceOf(name).read(t.offset, t.byteLength);
      if (bytes.byteLength !== t.byteLength) throw new SafetensorsError(t.file, name, `read ${bytes.byteLength} of ${t.byteLength} bytes`);
      return bytes;
    };
    return {
      store,
      location: store.location,
      config,
      configFile: at(CONFIG_FILE),
      files,
      tensors,
      skipped,
      onProgress: opts.onProgress,
      sourceOf,
      info,
      read,
      readFloat32: async (name) => {
        const t = info(name);
        return toFloat32(await read(name), t.dtype, `${t.file}: tensor '${name}'`);
      },
      close: async () => { await store.close?.(); },
    };
  } catch (e) {
    await store.close?.();
    throw e;
  }
}

function addTensors(
  h: SafetensorsHeader, file: string, weightMap: Map<string, string> | null, skip: (n: string) => boolean,
  skipped: string[], tensors: Map<string, TensorInfo>, fileOf: Map<string, string>,
): void {
  for (const [name, t] of h.tensors) {
    if (skip(name)) {
      if (!weightMap) skipped.push(name);
      continue;
    }
    // A tensor the index places elsewhere is a stale copy; the index decides.
    if (weightMap && weightMap.get(name) !== file) {
      if (!weightMap.has(name)) throw new SafetensorsError(h.file, name, `not listed in ${INDEX_FILE}`);
      continue;
    }
    if (tensors.has(name)) throw new SafetensorsError(h.file, name, `also in ${tensors.get(name)!.file}`);
    tensors.set(name, t);
    fileOf.set(name, file);
  }
}

async function exists(source: ByteSource): Promise<boolean> {
  try {
    await source.size();
    return true;
  } catch (e) {
    if (e instanceof FileNotFoundError) return false;
    throw e;
  }
}

async function noWeightsError(store: CheckpointStore): Promise<Error> {
  const hasBin = await exists(store.open('pytorch_model.bin')).catch(() => false)
    || (await store.readText('pytorch_model.bin.index.json').catch(() => null)) !== null;
  return new Error(`${store.location}: no ${SINGLE_FILE} or ${INDEX_FILE}` +
    (hasBin ? ' (only PyTorch .bin weights: convert them to safetensors)' : ''));
}

/** Shard file names come from an untrusted file: plain relative names only, no '..', no URLs. */
const SAFE_FILE = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

function parseIndex(text: string, file: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new Error(`${file}: no "weight_map" object`);
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string') throw new Error(`${file}: tensor '${name}': shard ${JSON.stringify(shard)} is not a file name`);
    if (!SAFE_FILE.test(shard) || shard.split('/').some((p) => p === '..' || p === '.')) {
      throw new Error(`${file}: tensor '${name}': shard name '${shard}' is not a plain relative file name`);
    }
    out.set(name, shard);
  }
  if (out.size === 0) throw new Error(`${file}: "weight_map" is empty`);
  return out;
}
