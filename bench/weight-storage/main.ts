// How fast each browser store takes a streamed checkpoint file and gives back the 16 MiB ranges the
// loader reads (bench/weight-storage/run.ts prints the table). The file arrives as a stream of 64 KiB
// chunks, as from fetch; reads are sequential 16 MiB ranges, as uploadWeights asks. One run per store,
// each cleaned up after.
const MIB = 2 ** 20;
const mib = Number(new URLSearchParams(location.search).get('mib') ?? 128);
const SIZE = mib * MIB;
const CHUNK = 64 * 1024;
const READ = 16 * MIB;

export interface StoreResult { store: string; writeMs: number; readMs: number; ok: boolean; note?: string }
declare global { interface Window { __storage?: { done: boolean; mib: number; results: StoreResult[]; error?: string } } }

/** A stream of SIZE bytes in 64 KiB chunks; byte i is (i * 31) & 255, so reads can be checked. */
function source(): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= SIZE) return c.close();
      const n = Math.min(CHUNK, SIZE - at);
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i += 4096) b[i] = ((at + i) * 31) & 255;
      at += n;
      c.enqueue(b);
    },
  });
}

const check = (bytes: Uint8Array, offset: number) => bytes[0] === ((offset * 31) & 255) && bytes[4096] === (((offset + 4096) * 31) & 255);

async function timed(store: string, write: () => Promise<void>, read: (offset: number, length: number) => Promise<Uint8Array>, cleanup: () => Promise<void>): Promise<StoreResult> {
  try {
    const t0 = performance.now();
    await write();
    const t1 = performance.now();
    let ok = true;
    for (let o = 0; o < SIZE; o += READ) ok &&= check(await read(o, Math.min(READ, SIZE - o)), o);
    const t2 = performance.now();
    return { store, writeMs: t1 - t0, readMs: t2 - t1, ok };
  } catch (e) {
    return { store, writeMs: NaN, readMs: NaN, ok: false, note: String(e) };
  } finally {
    await cleanup().catch(() => {});
  }
}

async function cacheStorage(): Promise<StoreResult> {
  const url = `${location.origin}/bench-weight-storage.bin`;
  let blob: Blob | null = null;
  let note = '';
  const r = await timed('Cache Storage (put a streamed Response; Blob slices)', async () => {
    const cache = await caches.open('bench-weight-storage');
    await cache.put(url, new Response(source()));
  }, async (o, n) => {
    if (!blob) {
      // match() + blob() before the first read: timed apart, it shows whether the Blob is disk-backed (no copy).
      const t0 = performance.now();
      blob = await (await (await caches.open('bench-weight-storage')).match(url))!.blob();
      note = `match + blob(): ${(performance.now() - t0).toFixed(1)} ms`;
    }
    return new Uint8Array(await blob.slice(o, o + n).arrayBuffer());
  }, () => caches.delete('bench-weight-storage').then(() => undefined));
  return { ...r, note };
}

async function opfs(): Promise<StoreResult> {
  let file: File | null = null;
  const root = await navigator.storage.getDirectory();
  return timed('OPFS (createWritable; File slices)', async () => {
    const handle = await root.getFileHandle('bench-weight-storage.bin', { create: true });
    const w = await (handle as FileSystemFileHandle & { createWritable(): Promise<FileSystemWritableFileStream> }).createWritable();
    await source().pipeTo(w as unknown as WritableStream<Uint8Array>);
    file = await handle.getFile();
  }, async (o, n) => new Uint8Array(await file!.slice(o, o + n).arrayBuffer()), () => root.removeEntry('bench-weight-storage.bin'));
}

function idbRequest<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
}

async function indexedDb(): Promise<StoreResult> {
  const open = indexedDB.open('bench-weight-storage', 1);
  open.onupgradeneeded = () => open.result.createObjectStore('chunks');
  const db = await idbRequest(open);
  const PART = 4 * MIB; // records of 4 MiB (a record per 64 KiB chunk is far slower)
  return timed('IndexedDB (4 MiB ArrayBuffer records)', async () => {
    const reader = source().getReader();
    let buf = new Uint8Array(PART);
    let fill = 0;
    let key = 0;
    const flush = async () => {
      const tx = db.transaction('chunks', 'readwrite');
      tx.objectStore('chunks').put(buf.slice(0, fill).buffer, key++);
      await new Promise((res, rej) => { tx.oncomplete = res; tx.onerror = () => rej(tx.error); });
      fill = 0;
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf.set(value, fill);
      fill += value.byteLength;
      if (fill === PART) await flush();
    }
    if (fill) await flush();
    buf = new Uint8Array(0);
  }, async (o, n) => {
    const out = new Uint8Array(n);
    const tx = db.transaction('chunks');
    for (let k = o / PART; k * PART < o + n; k++) out.set(new Uint8Array(await idbRequest(tx.objectStore('chunks').get(k) as IDBRequest<ArrayBuffer>)), k * PART - o);
    return out;
  }, async () => { db.close(); await idbRequest(indexedDB.deleteDatabase('bench-weight-storage') as unknown as IDBRequest<unknown>); });
}

window.__storage = { done: false, mib, results: [] };
(async () => {
  for (const run of [cacheStorage, opfs, indexedDb]) {
    window.__storage!.results.push(await run());
    document.getElementById('out')!.textContent = JSON.stringify(window.__storage!.results, null, 1);
  }
})().catch((e) => { window.__storage!.error = String(e); }).finally(() => { window.__storage!.done = true; });
