// An in-memory CacheStorage for Node tests of the weight cache, with the rules of the real one that
// the cache relies on: put() reads the whole body and stores nothing when the body errors; a quota
// (in bytes) makes put() reject with a QuotaExceededError. The browser tests use the real one.
type Key = RequestInfo | URL;
const urlOf = (k: Key) => (typeof k === 'string' ? k : k instanceof URL ? k.href : k.url);

interface Entry { body: Uint8Array; headers: [string, string][] }

export class FakeCache {
  readonly entries = new Map<string, Entry>();
  constructor(private readonly owner: FakeCacheStorage) {}

  async match(key: Key): Promise<Response | undefined> {
    const e = this.entries.get(urlOf(key));
    return e ? new Response(e.body.slice(), { headers: e.headers }) : undefined;
  }

  async put(key: Key, res: Response): Promise<void> {
    const body = new Uint8Array(await res.arrayBuffer()); // rejects when the body stream errors
    if (this.owner.usedBytes() + body.byteLength > this.owner.quotaBytes) throw new DOMException('quota exceeded', 'QuotaExceededError');
    const headers: [string, string][] = [];
    res.headers.forEach((v, k) => headers.push([k, v]));
    this.entries.set(urlOf(key), { body, headers });
  }

  async delete(key: Key): Promise<boolean> {
    return this.entries.delete(urlOf(key));
  }

  async keys(): Promise<Request[]> {
    return [...this.entries.keys()].map((u) => new Request(u));
  }
}

export class FakeCacheStorage {
  readonly caches = new Map<string, FakeCache>();
  quotaBytes = Infinity;

  usedBytes(): number {
    let n = 0;
    for (const c of this.caches.values()) for (const e of c.entries.values()) n += e.body.byteLength;
    return n;
  }

  async open(name: string): Promise<FakeCache> {
    let c = this.caches.get(name);
    if (!c) this.caches.set(name, (c = new FakeCache(this)));
    return c;
  }

  async has(name: string): Promise<boolean> {
    return this.caches.has(name);
  }

  async delete(name: string): Promise<boolean> {
    return this.caches.delete(name);
  }

  async keys(): Promise<string[]> {
    return [...this.caches.keys()];
  }

  /** As the CacheStorage the loader's `cache` option takes. */
  get asCacheStorage(): CacheStorage {
    return this as unknown as CacheStorage;
  }
}
