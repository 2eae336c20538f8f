// InternVL's dynamic tiling (dynamic_preprocess / find_closest_aspect_ratio in the InternVL README),
// reproduced decision for decision. The Python builds the candidate grids as
// sorted(set((i, j) ...), key=i·j): sorted() is stable, so among grids with the same tile count the
// order is CPython's set iteration order, and that order decides exact ties (aspect exactly halfway
// between two grids of equal count, e.g. 1000×800 with min = max = 8). We emulate CPython's tuple
// hash (3.8+, xxHash-based) and set insertion (open addressing, 9 linear probes, perturbation) so the
// order is the same; test/model/tiling.test.ts compares it with CPython's for many (min, max).

export interface Grid {
  /** Tiles across (i in the Python code). */
  cols: number;
  /** Tiles down (j). */
  rows: number;
}

const MASK64 = (1n << 64n) - 1n;
const XXPRIME_1 = 11400714785074694791n;
const XXPRIME_2 = 14029467366897019727n;
const XXPRIME_5 = 2870177450012600261n;

/** CPython's hash((a, b)) for small non-negative ints, as the unsigned 64-bit value (Py_uhash_t). */
export function pythonTupleHash(items: readonly number[]): bigint {
  let acc = XXPRIME_5;
  for (const v of items) {
    if (!Number.isSafeInteger(v) || v < 0 || v >= 2 ** 61 - 1) throw new Error(`pythonTupleHash: only small non-negative ints (got ${v})`);
    const lane = BigInt(v); // hash(int) == int for 0 <= v < 2**61 - 1
    acc = (acc + lane * XXPRIME_2) & MASK64;
    acc = ((acc << 31n) | (acc >> 33n)) & MASK64;
    acc = (acc * XXPRIME_1) & MASK64;
  }
  acc = (acc + (BigInt(items.length) ^ (XXPRIME_5 ^ 3527539n))) & MASK64;
  return acc === MASK64 ? 1546275796n : acc;
}

/** Iteration order of a CPython set built by adding `keys` one by one (duplicates ignored). */
export function pythonSetOrder<T>(keys: Iterable<T>, hash: (k: T) => bigint, id: (k: T) => string): T[] {
  const LINEAR_PROBES = 9n;
  const PERTURB_SHIFT = 5n;
  type Slot = { key: T; hash: bigint; id: string } | null;
  let table: Slot[] = new Array(8).fill(null);
  let mask = 7n;
  let used = 0;

  // set_insert_clean: used when the table is rebuilt (no duplicates possible).
  const insertClean = (tab: Slot[], m: bigint, entry: NonNullable<Slot>) => {
    let perturb = entry.hash;
    let i = entry.hash & m;
    for (;;) {
      if (tab[Number(i)] === null) { tab[Number(i)] = entry; return; }
      if (i + LINEAR_PROBES <= m) {
        for (let j = 1n; j <= LINEAR_PROBES; j++) {
          if (tab[Number(i + j)] === null) { tab[Number(i + j)] = entry; return; }
        }
      }
      perturb >>= PERTURB_SHIFT;
      i = (i * 5n + 1n + perturb) & m;
    }
  };
  const resize = (minUsed: number) => {
    let size = 8;
    while (size <= minUsed) size <<= 1;
    const old = table;
    table = new Array(size).fill(null);
    mask = BigInt(size - 1);
    for (const e of old) if (e) insertClean(table, mask, e);
  };

  for (const key of keys) {
    const h = hash(key);
    const k = id(key);
    let perturb = h;
    let i = h & mask;
    let slot = -1;
    search: for (;;) {
      const probes = i + LINEAR_PROBES <= mask ? LINEAR_PROBES : 0n;
      for (let j = 0n; j <= probes; j++) {
        const e = table[Number(i + j)];
        if (e === null) { slot = Number(i + j); break search; }
        if (e.hash === h && e.id === k) break search; // already present
      }
      perturb >>= PERTURB_SHIFT;
      i = (i * 5n + 1n + perturb) & mask;
    }
    if (slot < 0) continue;
    table[slot] = { key, hash: h, id: k };
    used++;
    // No deletions happen here, so fill == used; CPython grows when fill·5 >= mask·3.
    if (BigInt(used) * 5n >= mask * 3n) resize(used > 50000 ? used * 2 : used * 4);
  }
  return table.filter((e): e is NonNullable<Slot> => e !== null).map((e) => e.key);
}

const orderCache = new Map<string, Grid[]>();

/**
 * The candidate grids of dynamic_preprocess in the Python order:
 * sorted(set((i, j) for n in range(min, max+1) for i in 1..n for j in 1..n if min <= i·j <= max), key=i·j).
 */
export function targetRatios(minTiles: number, maxTiles: number): Grid[] {
  checkTileRange(minTiles, maxTiles);
  const key = `${minTiles},${maxTiles}`;
  const hit = orderCache.get(key);
  if (hit) return hit;
  function* generate(): Generator<[number, number]> {
    for (let n = minTiles; n <= maxTiles; n++) {
      for (let i = 1; i <= n; i++) {
        for (let j = 1; j <= n; j++) if (i * j <= maxTiles && i * j >= minTiles) yield [i, j];
      }
    }
  }
  const order = pythonSetOrder(generate(), pythonTupleHash, (t) => `${t[0]},${t[1]}`);
  // Array.prototype.sort is stable (ES2019), like Python's sorted.
  const sorted = order.map(([cols, rows]) => ({ cols, rows })).sort((a, b) => a.cols * a.rows - b.cols * b.rows);
  orderCache.set(key, sorted);
  return sorted;
}

export function checkTileRange(minTiles: number, maxTiles: number): void {
  if (!Number.isInteger(minTiles) || minTiles < 1) throw new Error(`tiling: minTiles must be an integer ≥ 1 (got ${minTiles})`);
  if (!Number.isInteger(maxTiles) || maxTiles < minTiles) throw new Error(`tiling: maxTiles must be an integer ≥ minTiles = ${minTiles} (got ${maxTiles})`);
  if (maxTiles > 1024) throw new Error(`tiling: maxTiles ${maxTiles} is unreasonably large (limit 1024)`);
}

/**
 * find_closest_aspect_ratio: the candidate with the smallest |W/H − cols/rows|; on an exact tie the
 * later candidate wins only if W·H > 0.5·S²·cols·rows. All in float64, as in Python.
 */
export function chooseGrid(width: number, height: number, size: number, minTiles = 1, maxTiles = 12): Grid {
  if (!(width >= 1 && height >= 1 && Number.isInteger(width) && Number.isInteger(height))) {
    throw new Error(`tiling: image size must be positive integers (got ${width}×${height})`);
  }
  const aspect = width / height;
  const area = width * height;
  let bestDiff = Infinity;
  let best: Grid = { cols: 1, rows: 1 };
  for (const g of targetRatios(minTiles, maxTiles)) {
    const diff = Math.abs(aspect - g.cols / g.rows);
    if (diff < bestDiff) {
      bestDiff = diff;
      best = g;
    } else if (diff === bestDiff && area > 0.5 * size * size * g.cols * g.rows) {
      best = g;
    }
  }
  return { cols: best.cols, rows: best.rows };
}
