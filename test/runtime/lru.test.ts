// The byte-budget LRU behind the plan caches (no GPU): made once per key, least recently used freed
// first, never what is leased or held, always the most recently used.
import { describe, expect, it } from 'vitest';
import { ByteLru } from '../../src/runtime/lru.js';

interface Item { key: string; bytes: number }

function cache(budget: number) {
  const disposed: string[] = [];
  let made = 0;
  const lru = new ByteLru<Item>({ budget, sizeOf: (v) => v.bytes, dispose: (v) => disposed.push(v.key) });
  const make = (key: string, bytes: number, delay = 0) => async () => {
    made++;
    if (delay) await new Promise((r) => setTimeout(r, delay));
    return { key, bytes };
  };
  const use = async (key: string, bytes: number) => (await lru.acquire(key, make(key, bytes))).release();
  return { lru, disposed, make, use, made: () => made };
}

describe('ByteLru', () => {
  it('frees least recently used entries beyond the budget, never the most recent', async () => {
    const c = cache(250);
    await c.use('a', 100);
    await c.use('b', 100);
    await c.use('a', 100); // a is now more recent than b
    await c.use('c', 100);
    expect(c.disposed).toEqual(['b']);
    expect(c.lru.keys()).toEqual(['a', 'c']);
    expect(c.lru.bytes).toBe(200);
    await c.use('huge', 1000); // over the budget alone: kept (most recent), everything else goes
    expect(c.disposed).toEqual(['b', 'a', 'c']);
    expect(c.lru.keys()).toEqual(['huge']);
    await c.use('d', 10);
    expect(c.disposed).toEqual(['b', 'a', 'c', 'huge']);
    expect(c.lru.bytes).toBe(10);
  });

  it('makes a value once for concurrent callers of the same key', async () => {
    const c = cache(1000);
    const leases = await Promise.all(Array.from({ length: 5 }, () => c.lru.acquire('k', c.make('k', 10, 20))));
    expect(c.made()).toBe(1);
    expect(new Set(leases.map((l) => l.value)).size).toBe(1);
    leases.forEach((l) => l.release());
    expect(c.lru.size).toBe(1);
  });

  it('never frees a leased entry; frees it once released if still over budget', async () => {
    const c = cache(0);
    const a = await c.lru.acquire('a', c.make('a', 100));
    await c.use('b', 100);
    await c.use('c', 100);
    expect(c.disposed).toEqual(['b']); // a is leased, c is the most recent
    a.release();
    await c.use('d', 100);
    expect(c.disposed).toEqual(['b', 'a', 'c']);
  });

  it('keeps a held entry until the next use of its key or until let go', async () => {
    const c = cache(0);
    const a = await c.lru.acquire('a', c.make('a', 100));
    const letGo = a.hold();
    a.release();
    await c.use('b', 100);
    await c.use('c', 100);
    expect(c.disposed).toEqual(['b']);
    letGo();
    expect(c.disposed).toEqual(['b', 'a']);
    // A new use of the key ends the hold (its outputs are overwritten by that use).
    const d = await c.lru.acquire('d', c.make('d', 100));
    const stale = d.hold();
    d.release();
    await c.use('d', 100);
    await c.use('e', 100);
    expect(c.disposed).toContain('d');
    stale(); // letting go of an ended hold does nothing
  });

  it('a failed make is not cached; clear() disposes everything, including entries made later', async () => {
    const c = cache(1000);
    await expect(c.lru.acquire('x', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(c.lru.size).toBe(0);
    await c.use('a', 10);
    const pending = c.lru.acquire('slow', c.make('slow', 10, 20));
    c.lru.clear();
    await expect(pending).rejects.toThrow(/cleared/);
    expect(c.disposed.sort()).toEqual(['a', 'slow']);
    expect(c.lru.bytes).toBe(0);
    expect(() => c.lru.setBudget(-1)).toThrow(/budget/);
    expect(() => c.lru.setBudget(NaN)).toThrow(/budget/);
    c.lru.setBudget(Infinity);
    await c.use('b', 1e12);
    await c.use('c', 1e12);
    expect(c.lru.size).toBe(2);
  });
});
