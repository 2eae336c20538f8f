// The weight cache's rules in Node, on an in-memory CacheStorage (fake-cache-storage.ts) and a local
// server that counts requests and weight bytes: first load one GET per file into the cache, second
// load no request at all, corrupt entries refetched, abort and quota leave nothing, cache: false and
// clearCache. The same flows run against Chromium's real Cache Storage in
// test/browser/weight-cache.browser.test.ts.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { openCheckpoint, type OpenCheckpointOptions } from '../../src/runtime/loader.js';
import { cachedModels, clearCache, WEIGHT_CACHE_NAME } from '../../src/runtime/weight-cache.js';
import { writeSafetensors, type WriteTensor } from '../../src/runtime/safetensors.js';
import { FakeCacheStorage } from './fake-cache-storage.js';
import { makeTempDir, randomTensor, seeded, serveFolder, writeFiles, type TestServer } from './checkpoint-helpers.js';

const rand = seeded(5);
const tensors: Record<string, WriteTensor> = {};
for (let i = 0; i < 12; i++) tensors[`t.${String(i).padStart(2, '0')}`] = randomTensor([2048 + 3 * i], i % 3 ? 'BF16' : 'F32', rand);
tensors['skipped.tail'] = randomTensor([4096], 'F32', rand); // last in the file, never read by the loads below
const file = writeSafetensors(tensors);
const CONFIG = '{"hidden_size": 8}';

let tmp: { dir: string; cleanup: () => Promise<void> };
let server: TestServer;
let stalling: TestServer;
let cs: FakeCacheStorage;
let warnings: string[];

beforeAll(async () => {
  tmp = await makeTempDir();
  await writeFiles(join(tmp.dir, 'm'), { 'config.json': CONFIG, 'model.safetensors': file });
  await writeFiles(join(tmp.dir, 'other'), { 'config.json': CONFIG, 'model.safetensors': file });
  server = await serveFolder(tmp.dir, { etag: true });
  stalling = await serveFolder(tmp.dir, { range: false, stallAfterBytes: 16 * 1024 });
});
afterAll(async () => {
  await server.close();
  await stalling.close();
  await tmp.cleanup();
});
beforeEach(() => {
  cs = new FakeCacheStorage();
  warnings = [];
  vi.spyOn(console, 'warn').mockImplementation((m: string) => { warnings.push(m); });
  server.requests.length = 0;
});
afterEach(() => vi.restoreAllMocks());

/** Opens, reads every tensor but the tail in offset order (as uploadWeights does), completes, closes. */
async function load(base: string, opts: OpenCheckpointOptions = {}): Promise<{ origins: Set<string | undefined> }> {
  const ckpt = await openCheckpoint(base, { cache: cs.asCacheStorage, skipPrefixes: ['skipped.'], ...opts });
  const origins = new Set<string | undefined>();
  try {
    expect(ckpt.config).toEqual(JSON.parse(CONFIG));
    for (const t of [...ckpt.tensors.values()].sort((a, b) => a.offset - b.offset)) {
      expect(await ckpt.read(t.name)).toEqual(file.subarray(t.offset, t.offset + t.byteLength));
      origins.add(ckpt.sourceOf(t.name).origin);
    }
    await ckpt.store.complete?.();
  } finally {
    await ckpt.close();
  }
  return { origins };
}

const gets = (s: TestServer, suffix = '.safetensors') => s.requests.filter((r) => r.method === 'GET' && r.path.endsWith(suffix));

describe('weight cache (in-memory CacheStorage)', () => {
  it('first load: one whole-file GET, stored whole (tail included); second load: no request at all', async () => {
    const sent0 = server.weightBytesSent();
    expect((await load(`${server.url}/m/`)).origins).toEqual(new Set(['network']));
    expect(gets(server).map((r) => r.range)).toEqual([null]);
    expect(server.weightBytesSent() - sent0).toBe(file.byteLength);
    const listed = await cachedModels(cs.asCacheStorage);
    expect(listed.map((m) => [m.model, m.bytes, m.files.map((f) => [f.url.slice(server.url.length), f.bytes])])).toEqual([
      [`${server.url}/m/`, file.byteLength + CONFIG.length, [['/m/config.json', CONFIG.length], ['/m/model.safetensors', file.byteLength]]],
    ]);
    expect(listed[0]!.files[1]!.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);

    server.requests.length = 0;
    const sent1 = server.weightBytesSent();
    expect((await load(`${server.url}/m/`)).origins).toEqual(new Set(['cache']));
    expect(server.requests).toEqual([]);
    expect(server.weightBytesSent()).toBe(sent1);
    expect(warnings).toEqual([]);
  });

  it('a sharded model: shards and index cached, model.safetensors remembered as missing; the second load sends no request', async () => {
    const shards = { 'a.safetensors': writeSafetensors({ 'x.a': tensors['t.00']! }), 'b.safetensors': writeSafetensors({ 'x.b': tensors['t.01']! }) };
    const index = JSON.stringify({ weight_map: { 'x.a': 'a.safetensors', 'x.b': 'b.safetensors' } });
    await writeFiles(join(tmp.dir, 'sharded'), { 'config.json': CONFIG, 'model.safetensors.index.json': index, ...shards });
    const once = async () => {
      const ckpt = await openCheckpoint(`${server.url}/sharded/`, { cache: cs.asCacheStorage });
      try {
        expect(await ckpt.read('x.b')).toEqual(shards['b.safetensors'].subarray(ckpt.info('x.b').offset));
        expect(await ckpt.read('x.a')).toEqual(shards['a.safetensors'].subarray(ckpt.info('x.a').offset));
        await ckpt.store.complete?.();
      } finally {
        await ckpt.close();
      }
    };
    await once();
    const listed = await cachedModels(cs.asCacheStorage);
    expect(listed[0]!.files.map((f) => f.url.slice(`${server.url}/sharded/`.length))).toEqual(['a.safetensors', 'b.safetensors', 'config.json', 'model.safetensors.index.json']);
    server.requests.length = 0;
    await once();
    expect(server.requests).toEqual([]);
    expect(await clearCache(`${server.url}/sharded/`, cs.asCacheStorage)).toBe(5); // the missing-file marker too
  });

  it('a truncated entry is discarded with a warning and fetched again, then whole', async () => {
    await load(`${server.url}/m/`);
    const entries = cs.caches.get(WEIGHT_CACHE_NAME)!.entries;
    const key = `${server.url}/m/model.safetensors`;
    entries.get(key)!.body = entries.get(key)!.body.slice(0, 1000);
    server.requests.length = 0;
    expect((await load(`${server.url}/m/`)).origins).toEqual(new Set(['network']));
    expect(gets(server).length).toBe(1);
    expect(warnings.join('\n')).toMatch(/model\.safetensors: the cached copy has 1000 bytes, \d+ were recorded: discarded, fetching it again/);
    expect(entries.get(key)!.body).toEqual(file);
  });

  it('a download that breaks is resumed where it broke; the entry is whole and exact', async () => {
    const s = await serveFolder(tmp.dir, { cutOnceAfterBytes: 30_000 });
    try {
      await load(`${s.url}/m/`);
      expect(gets(s).map((r) => r.range)).toEqual([null, 'bytes=30000-']);
      expect(cs.caches.get(WEIGHT_CACHE_NAME)!.entries.get(`${s.url}/m/model.safetensors`)!.body).toEqual(file);
      expect(warnings).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('an abort mid-download rejects with an AbortError and stores nothing', async () => {
    const controller = new AbortController();
    const ckpt = await openCheckpoint(`${stalling.url}/m/`, { cache: cs.asCacheStorage, signal: controller.signal });
    const last = [...ckpt.tensors.values()].sort((a, b) => b.offset - a.offset)[0]!;
    const pending = ckpt.read(last.name);
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await ckpt.close();
    expect(await cachedModels(cs.asCacheStorage)).toEqual([]);
    expect(cs.usedBytes()).toBe(0);
  });

  it('a load that fails before complete() stores nothing, config.json included', async () => {
    const ckpt = await openCheckpoint(`${server.url}/m/`, { cache: cs.asCacheStorage });
    await ckpt.read('t.00');
    await ckpt.close(); // e.g. the weights did not match the config
    expect(await cachedModels(cs.asCacheStorage)).toEqual([]);
    expect(warnings).toEqual([]); // the load's own error says what happened
  });

  it('a full quota: the load succeeds from the network with a warning, nothing stored', async () => {
    cs.quotaBytes = 1000;
    await load(`${server.url}/m/`);
    expect(warnings.join('\n')).toMatch(/model\.safetensors: not cached \(the browser's storage quota is full\); this load goes on from the network/);
    expect((await cachedModels(cs.asCacheStorage)).flatMap((m) => m.files.map((f) => f.url))).toEqual([`${server.url}/m/config.json`]);
  });

  it('cache: false reads by Range and stores nothing', async () => {
    expect((await load(`${server.url}/m/`, { cache: false })).origins).toEqual(new Set(['network']));
    expect(gets(server).every((r) => r.range !== null)).toBe(true);
    expect(cs.caches.size).toBe(0);
  });

  it('clearCache(model) removes one model, clearCache() all; the next load fetches in full', async () => {
    await load(`${server.url}/m/`);
    await load(`${server.url}/other/`);
    expect((await cachedModels(cs.asCacheStorage)).map((m) => m.model)).toEqual([`${server.url}/m/`, `${server.url}/other/`]);
    expect(await clearCache(`${server.url}/other/`, cs.asCacheStorage)).toBe(2);
    expect((await cachedModels(cs.asCacheStorage)).map((m) => m.model)).toEqual([`${server.url}/m/`]);
    expect(await clearCache(undefined, cs.asCacheStorage)).toBe(2);
    expect(await cachedModels(cs.asCacheStorage)).toEqual([]);
    server.requests.length = 0;
    const sent = server.weightBytesSent();
    await load(`${server.url}/m/`);
    expect(server.weightBytesSent() - sent).toBe(file.byteLength);
  });

  it('an ETag that is a sha256 is checked: a match is stored with it, a mismatch is not stored', async () => {
    for (const [etag, stored] of [['sha256', true], ['wrong-sha256', false]] as const) {
      const s = await serveFolder(tmp.dir, { etag });
      try {
        cs = new FakeCacheStorage();
        warnings.length = 0;
        await load(`${s.url}/m/`);
        const files = (await cachedModels(cs.asCacheStorage)).flatMap((m) => m.files);
        const weights = files.find((f) => f.url.endsWith('.safetensors'));
        if (stored) {
          expect(weights?.sha256).toBe(createHash('sha256').update(file).digest('hex'));
          expect(warnings).toEqual([]);
        } else {
          expect(weights).toBeUndefined();
          expect(warnings.join('\n')).toMatch(/model\.safetensors: the bytes' sha256 is [0-9a-f]{64}, the server's ETag says [0-9a-f]{64}: not cached/);
        }
      } finally {
        await s.close();
      }
    }
  });

  it('a hub id: entries keyed by the resolve URL (revision included), the CDN redirect followed; second load sends nothing', async () => {
    const hub = await serveFolder(join(tmp.dir, 'm'), { hubId: 'OpenGVLab/Tiny' });
    try {
      await load('OpenGVLab/Tiny', { hubUrl: hub.url });
      expect(hub.requests.some((r) => r.path.startsWith('/cdn/'))).toBe(true);
      const models = await cachedModels(cs.asCacheStorage);
      expect(models.map((m) => [m.model, m.files.map((f) => f.url)])).toEqual([
        [`${hub.url}/OpenGVLab/Tiny/resolve/main/`, [`${hub.url}/OpenGVLab/Tiny/resolve/main/config.json`, `${hub.url}/OpenGVLab/Tiny/resolve/main/model.safetensors`]],
      ]);
      hub.requests.length = 0;
      await load('OpenGVLab/Tiny', { hubUrl: hub.url });
      expect(hub.requests).toEqual([]);
      // Another revision is another entry: fetched (this server only knows 'main', so it is a 404).
      await expect(openCheckpoint('OpenGVLab/Tiny', { hubUrl: hub.url, revision: 'v2', cache: cs.asCacheStorage })).rejects.toThrow(/resolve\/v2\/\): no model\.safetensors or model\.safetensors\.index\.json$/);
      expect(hub.requests.length).toBeGreaterThan(0);
    } finally {
      await hub.close();
    }
  });

  it('Node has no Cache Storage: no cache by default, Range reads', async () => {
    expect((globalThis as { caches?: unknown }).caches).toBeUndefined();
    const ckpt = await openCheckpoint(`${server.url}/m/`);
    await ckpt.read('t.00');
    await ckpt.close();
    expect(gets(server).every((r) => r.range !== null)).toBe(true);
  });
});
