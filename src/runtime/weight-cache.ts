// The browser's weight cache: files fetched from a URL prefix or a hub id are kept in Cache Storage
// (one cache, WEIGHT_CACHE_NAME; the key is the file's URL, which for hub ids holds the revision), so
// the next load of the same model reads them from disk and makes no request for them.
//
// Why Cache Storage: it exists in windows and workers of every browser, stores a streamed Response
// without holding it in memory, and gives back a disk-backed Blob whose slices read only the bytes
// asked for (OPFS writes need createWritable, missing in Safari; IndexedDB stores values whole).
//
// A file not in the cache is read with one GET of the whole file, sequentially (stream-reader.ts):
// the loader's reads are served from that stream as it passes, and every byte also goes into the
// cache entry's body. The entry is committed only when the stream ended with exactly the announced
// size (and the same ETag as the size probe); a short body, an abort or any error errors the entry's
// stream, so Cache Storage keeps nothing of it. Where the server gives the file's sha256 (an ETag of
// 64 hex digits, as the hub's LFS files), the bytes are hashed on the way and must match too. An entry found with a size other than the one it
// recorded is deleted and fetched again. A quota (or any other cache) error makes this load go on
// without the cache, with one warning. After a successful load, `complete()` reads the rest of each
// file (bytes after the last tensor needed) so the entry is whole.
import type { ByteSource } from './safetensors.js';
import { FileNotFoundError, type CheckpointStore, type UrlFileInfo, type UrlSource } from './loader.js';
import { abortReason, isAbortError } from './abort.js';
import { streamReader, type StreamReader } from './stream-reader.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export const WEIGHT_CACHE_NAME = 'internvit-webgpu-weights-v1';

/** What each entry records besides its body (response headers of the stored Response). */
const H = {
  size: 'x-internvit-size',
  model: 'x-internvit-model',
  etag: 'x-internvit-etag',
  sha256: 'x-internvit-sha256',
  storedAt: 'x-internvit-stored-at',
  /** A file the server did not have (a sharded model's model.safetensors): not asked for again. */
  missing: 'x-internvit-missing',
} as const;

export interface CachedFile { url: string; bytes: number; storedAt: string; etag?: string; sha256?: string }
export interface CachedModel {
  /** The URL prefix the model was loaded from (for hub ids: {hub}/{id}/resolve/{revision}/). */
  model: string;
  files: CachedFile[];
  /** Sum of the files' bytes. */
  bytes: number;
}

/** The CacheStorage the `cache` option asks for, or null (Node has none; neither has an insecure page). */
export function resolveCache(option: boolean | CacheStorage | undefined): CacheStorage | null {
  if (option === false) return null;
  if (option && option !== true) return option;
  const g = globalThis as { caches?: CacheStorage; isSecureContext?: boolean };
  const found = g.caches ?? null;
  if (!found && (option === true || (g.isSecureContext === false && !warnedInsecure))) {
    warnedInsecure = true;
    warn('there is no Cache Storage here (Node, or a page that is not a secure context: https or localhost): the weights are not cached');
  }
  return found;
}

let warnedInsecure = false;

function warn(message: string): void {
  console.warn(`internvit: ${message}`);
}

function storage(given?: CacheStorage): CacheStorage | null {
  return given ?? (globalThis as { caches?: CacheStorage }).caches ?? null;
}

/** Every model in the weight cache with its files and sizes (an empty list where there is no Cache Storage). */
export async function cachedModels(cacheStorage?: CacheStorage): Promise<CachedModel[]> {
  const cs = storage(cacheStorage);
  if (!cs || !(await cs.has(WEIGHT_CACHE_NAME))) return [];
  const cache = await cs.open(WEIGHT_CACHE_NAME);
  const byModel = new Map<string, CachedModel>();
  for (const req of await cache.keys()) {
    const res = await cache.match(req);
    if (!res) continue;
    const h = res.headers;
    await res.body?.cancel();
    if (h.get(H.missing)) continue;
    const model = h.get(H.model) ?? new URL('./', req.url).href;
    let m = byModel.get(model);
    if (!m) byModel.set(model, (m = { model, files: [], bytes: 0 }));
    const bytes = Number(h.get(H.size) ?? 0);
    m.files.push({
      url: req.url, bytes, storedAt: h.get(H.storedAt) ?? '',
      ...(h.get(H.etag) ? { etag: h.get(H.etag)! } : {}), ...(h.get(H.sha256) ? { sha256: h.get(H.sha256)! } : {}),
    });
    m.bytes += bytes;
  }
  for (const m of byModel.values()) m.files.sort((a, b) => (a.url < b.url ? -1 : 1));
  return [...byModel.values()].sort((a, b) => (a.model < b.model ? -1 : 1));
}

/**
 * Empties the weight cache, or removes one model's files (`model` as cachedModels() names it).
 * Returns the number of files removed.
 */
export async function clearCache(model?: string, cacheStorage?: CacheStorage): Promise<number> {
  const cs = storage(cacheStorage);
  if (!cs || !(await cs.has(WEIGHT_CACHE_NAME))) return 0;
  const cache = await cs.open(WEIGHT_CACHE_NAME);
  const keys = await cache.keys();
  if (model === undefined) {
    await cs.delete(WEIGHT_CACHE_NAME);
    return keys.length;
  }
  let removed = 0;
  for (const req of keys) {
    const res = await cache.match(req);
    const of = res?.headers.get(H.model);
    await res?.body?.cancel();
    if (of === model && (await cache.delete(req))) removed++;
  }
  return removed;
}

export interface CachedStoreOptions {
  cache: CacheStorage;
  /** The model's URL prefix, recorded on each entry (cachedModels groups by it). */
  model: string;
  signal?: AbortSignal;
}

/** `inner` (a URL store) read through the weight cache. */
export function cachedStore(inner: CheckpointStore, opts: CachedStoreOptions): CheckpointStore {
  // urlStore's sources are UrlSources (info, openFrom); withCache wraps nothing else.
  const urls = { open: (file: string) => inner.open(file) as UrlSource };
  let opened: Promise<Cache | null> | null = null;
  const cache = () => (opened ??= opts.cache.open(WEIGHT_CACHE_NAME).catch((e: Error) => {
    warn(`the weight cache cannot be opened (${e.name}: ${e.message}); loading without it`);
    return null;
  }));
  const files = new Map<string, CachedSource>();
  const texts = new Map<string, string>();
  return {
    location: inner.location,
    open(file) {
      let s = files.get(file);
      if (!s) files.set(file, (s = cachedSource(urls.open(file), cache, opts)));
      return s;
    },
    async readText(file) {
      const c = await cache();
      const url = urls.open(file).name;
      if (c) {
        const hit = await c.match(url).catch(() => undefined);
        if (hit) {
          const bytes = new Uint8Array(await hit.arrayBuffer());
          if (bytes.byteLength === Number(hit.headers.get(H.size))) return new TextDecoder().decode(bytes);
          await c.delete(url);
        }
      }
      const text = await inner.readText(file);
      if (text !== null && c) texts.set(url, text); // stored by complete(): a failed load leaves nothing
      return text;
    },
    async complete() {
      await Promise.all([...files.values()].map((s) => s.complete()));
      const c = await cache();
      if (!c) return;
      for (const [url, text] of texts) {
        const bytes = new TextEncoder().encode(text);
        await c.put(url, new Response(bytes, { headers: entryHeaders(opts.model, bytes.byteLength, null, null) }))
          .catch((e: Error) => warn(notCached(url, e)));
      }
      texts.clear();
    },
    async close() {
      await Promise.all([...files.values()].map((s) => s.close()));
      files.clear();
      await inner.close?.();
    },
  };
}

function notCached(url: string, e: Error): string {
  return `${url}: not cached (${e.name === 'QuotaExceededError' ? 'the browser\'s storage quota is full' : `${e.name}: ${e.message}`})`;
}

function entryHeaders(model: string, size: number, etag: string | null, sha256: string | null): Record<string, string> {
  return {
    'content-type': 'application/octet-stream',
    [H.model]: model,
    [H.size]: String(size),
    [H.storedAt]: new Date().toISOString(),
    ...(etag ? { [H.etag]: etag } : {}),
    ...(sha256 ? { [H.sha256]: sha256 } : {}),
  };
}

interface CachedSource extends ByteSource {
  complete(): Promise<void>;
  close(): Promise<void>;
}

type State =
  | { kind: 'cache'; blob: Blob }
  | { kind: 'direct' } // no cache could be opened: plain reads from the network
  | { kind: 'network'; info: UrlFileInfo; reader: StreamReader; writer: EntryWriter };

function cachedSource(net: UrlSource, cache: () => Promise<Cache | null>, opts: CachedStoreOptions): CachedSource {
  let state: Promise<State> | null = null;
  let origin: 'cache' | 'network' | undefined;
  let missing = false;

  async function lookup(): Promise<State> {
    const c = await cache();
    if (!c) return { kind: 'direct' };
    const hit = await c.match(net.name).catch(() => undefined);
    if (hit?.headers.get(H.missing)) {
      await hit.body?.cancel();
      missing = true;
      throw new FileNotFoundError(net.name, 'no such file (HTTP 404, remembered by the weight cache)');
    }
    if (hit) {
      const want = Number(hit.headers.get(H.size));
      const blob = await hit.blob();
      if (Number.isSafeInteger(want) && blob.size === want) return { kind: 'cache', blob };
      await c.delete(net.name);
      warn(`${net.name}: the cached copy has ${blob.size} bytes, ${want} were recorded: discarded, fetching it again`);
    }
    const info = await net.info().catch((e: unknown) => {
      if (e instanceof FileNotFoundError) missing = true;
      throw e;
    });
    const writer = entryWriter(c, net.name, info, opts.model);
    const reader = streamReader({
      name: net.name,
      signal: opts.signal,
      open: async (from) => {
        const opened = await net.openFrom(from);
        if (info.etag && opened.etag && opened.etag !== info.etag) writer.abandon(`${net.name} changed while loading (ETag ${opened.etag}, was ${info.etag}): not cached`);
        return opened;
      },
      onChunk: (chunk, offset) => writer.write(chunk, offset),
      onEnd: (bytes) => writer.end(bytes),
    });
    return { kind: 'network', info, reader, writer };
  }
  const resolved = () => (state ??= lookup().catch((e) => { state = null; throw e; }));

  return {
    name: net.name,
    get origin() { return origin; },
    async size() {
      const s = await resolved();
      return s.kind === 'cache' ? s.blob.size : net.size();
    },
    async read(offset, length) {
      const s = await resolved();
      if (s.kind === 'cache') {
        if (offset + length > s.blob.size) throw new Error(`${net.name} (cached): read of ${length} bytes at ${offset} is beyond the ${s.blob.size}-byte file`);
        const bytes = new Uint8Array(await s.blob.slice(offset, offset + length).arrayBuffer());
        origin = 'cache';
        return bytes;
      }
      const bytes = s.kind === 'direct' ? await net.read(offset, length) : await s.reader.read(offset, length);
      origin = 'network';
      return bytes;
    },
    async complete() {
      if (missing) {
        // Remembered, so the next load of a sharded model does not ask for model.safetensors again.
        const c = await cache();
        await c?.put(net.name, new Response(new Uint8Array(0), { headers: { ...entryHeaders(opts.model, 0, null, null), [H.missing]: '1' } })).catch(() => {});
        return;
      }
      const s = await state?.catch(() => null);
      if (s?.kind !== 'network') return;
      try {
        await s.reader.drain();
      } catch (e) {
        // The weights are on the GPU already: only an abort fails the load; anything else costs the entry.
        if (isAbortError(e)) throw e;
        s.writer.abandon(`${net.name}: reading the rest of the file for the cache failed (${(e as Error).message}): not cached`);
      }
      await s.writer.settled;
    },
    async close() {
      const s = await state?.catch(() => null);
      if (s?.kind === 'network') {
        // Silent (an Error, not a string): the load's own error or abort says what happened.
        s.writer.abandon(opts.signal?.aborted ? abortReason(opts.signal) : new Error('the load ended before the file was read to its end'));
        await s.reader.cancel();
        await s.writer.settled;
      }
      await net.close?.();
    },
  };
}

interface EntryWriter {
  write(chunk: Uint8Array, offset: number): void;
  /** The stream ended after `bytes` bytes: commit the entry if that is the announced size. */
  end(bytes: number): void;
  /** Drop the entry (nothing is stored); a string reason is also a warning. */
  abandon(reason: string | Error): void;
  /** Resolves (never rejects) once the entry is stored or dropped. */
  readonly settled: Promise<void>;
}

/** One cache entry written as its bytes pass: a Response whose body this writer feeds. */
function entryWriter(cache: Cache, url: string, info: UrlFileInfo, model: string): EntryWriter {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start(c) { controller = c; } });
  let written = 0;
  // Where the server names the file's sha256 (the hub's LFS ETag), the bytes are hashed as they pass.
  const hash = info.sha256 ? sha256.create() : null;
  let over = false; // no more bytes go in: committed, abandoned, or the put failed
  let abandoned = false;
  const settled = cache.put(url, new Response(body, { headers: entryHeaders(model, info.size, info.etag, info.sha256) })).then(
    () => undefined,
    (e: Error) => {
      over = true;
      if (abandoned) return; // on purpose, and said so
      warn(`${notCached(url, e)}; this load goes on from the network`);
    },
  );
  const abandon = (reason: string | Error) => {
    if (over) return;
    over = abandoned = true;
    if (typeof reason === 'string') warn(reason);
    try {
      controller.error(typeof reason === 'string' ? new Error(reason) : reason);
    } catch { /* already errored */ }
  };
  return {
    write(chunk, offset) {
      if (over) return;
      if (offset !== written) return abandon(`${url}: the download restarted at byte ${offset}: not cached`);
      try {
        controller.enqueue(chunk);
        hash?.update(chunk);
        written += chunk.byteLength;
      } catch {
        over = true; // the put already failed (and said so)
      }
    },
    end(bytes) {
      if (over) return;
      if (bytes !== info.size) return abandon(`${url}: the server sent ${bytes} bytes, it announced ${info.size}: not cached`);
      const digest = hash ? bytesToHex(hash.digest()) : null;
      if (digest && digest !== info.sha256) return abandon(`${url}: the bytes' sha256 is ${digest}, the server's ETag says ${info.sha256}: not cached`);
      over = true;
      controller.close();
    },
    abandon,
    settled,
  };
}
