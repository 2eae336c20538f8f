// A least-recently-used cache with a byte budget, for values that own GPU memory (compiled plans).
// Memory stays bounded over time whatever the mix of shapes, without ever freeing what is in use:
//   - a value is made once per key, even when several callers ask for it at the same time;
//   - a caller *leases* an entry; a leased entry is never evicted (a run in flight keeps its buffers);
//   - a released entry may be *held* (e.g. a keepOnGpu result the caller still reads) until the next
//     lease of the same key or until the holder lets go; held entries are never evicted either;
//   - the most recently used entry is kept even when it alone is over the budget, so a steady
//     workload larger than the budget does not re-allocate on every call.
// Eviction happens when an entry is leased or released: least recently used first, until the bytes
// of the resolved entries are within the budget.

export interface ByteLruOptions<V> {
  /** Bytes the cache may keep (0: only the most recently used entry; Infinity: everything). */
  budget: number;
  /** Bytes a value owns (known once it is made). */
  sizeOf(value: V): number;
  /** Frees a value that left the cache. */
  dispose(value: V): void;
}

export interface Lease<V> {
  readonly value: V;
  /** Ends this use; the entry may be evicted from now on (unless held). Idempotent. */
  release(): void;
  /**
   * Keeps the entry after release() until the next lease of the same key, or until the returned
   * function is called. Call before release().
   */
  hold(): () => void;
}

interface Entry<V> {
  promise: Promise<V>;
  value?: V;
  bytes: number;
  pins: number;
  heldBy: object | null;
  gone: boolean;
}

export class ByteLru<V> {
  private readonly entries = new Map<string, Entry<V>>(); // iteration order: least recently used first
  private total = 0;
  budget: number;

  constructor(private readonly opts: ByteLruOptions<V>) {
    this.budget = checkBudget(opts.budget);
  }

  /** Entries in the cache (made or being made). */
  get size(): number {
    return this.entries.size;
  }

  /** Bytes owned by the made entries still in the cache. */
  get bytes(): number {
    return this.total;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  setBudget(bytes: number): void {
    this.budget = checkBudget(bytes);
    this.trim();
  }

  /** The value for `key`, made by `make()` on first use (one make per key, however many callers). */
  async acquire(key: string, make: () => Promise<V>): Promise<Lease<V>> {
    let e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      this.entries.set(key, e);
    } else {
      const entry: Entry<V> = { promise: undefined as unknown as Promise<V>, bytes: 0, pins: 0, heldBy: null, gone: false };
      entry.promise = make().then((value) => {
        if (entry.gone) {
          // Cleared (the owner was disposed) while it was being made.
          this.opts.dispose(value);
          throw new Error('the cache was cleared while this entry was being made');
        }
        entry.value = value;
        entry.bytes = this.opts.sizeOf(value);
        this.total += entry.bytes;
        return value;
      }, (err: unknown) => {
        entry.gone = true;
        if (this.entries.get(key) === entry) this.entries.delete(key);
        throw err;
      });
      this.entries.set(key, (e = entry));
    }
    const entry = e;
    entry.pins++;
    // A new use ends any hold: the holder was told its view lasts until the next use of the key.
    entry.heldBy = null;
    let value: V;
    try {
      value = await entry.promise;
    } catch (err) {
      entry.pins--;
      throw err;
    }
    this.trim();
    let released = false;
    return {
      value,
      release: () => {
        if (released) return;
        released = true;
        entry.pins--;
        this.trim();
      },
      hold: () => {
        const token = {};
        entry.heldBy = token;
        return () => {
          if (entry.heldBy !== token) return;
          entry.heldBy = null;
          this.trim();
        };
      },
    };
  }

  /** Disposes every made entry now, leased or held (the owner is going away); pending ones when made. */
  clear(): void {
    for (const e of this.entries.values()) {
      e.gone = true;
      if (e.value !== undefined) this.opts.dispose(e.value);
    }
    this.entries.clear();
    this.total = 0;
  }

  private trim(): void {
    if (this.total <= this.budget) return;
    const entries = [...this.entries];
    // The most recently used entry (the last) always stays.
    for (const [key, e] of entries.slice(0, -1)) {
      if (this.total <= this.budget) break;
      if (e.pins > 0 || e.heldBy || e.value === undefined) continue;
      this.entries.delete(key);
      this.total -= e.bytes;
      e.gone = true;
      this.opts.dispose(e.value);
    }
  }
}

function checkBudget(bytes: number): number {
  // Infinity is allowed: keep everything (the old unbounded behaviour, for callers who manage memory themselves).
  if (typeof bytes !== 'number' || !(bytes >= 0)) throw new Error(`cache budget must be a number of bytes ≥ 0 or Infinity (got ${bytes})`);
  return bytes;
}
