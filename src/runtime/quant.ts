// Weight-only quantization of linear weights W [N, K] (rows = output channels), on the host.
//
// int8: symmetric, one f32 scale per row: scale = max|w| / 127, q = round(w / scale) in -127..127,
//       w ≈ q · scale. A row of zeros gets scale 0.
// int4: asymmetric (a zero point: measured 17–27% less weight error than symmetric at the same group
//       size, ARCHITECTURE.md), per row and group of `groupSize` consecutive input channels (the
//       last group of a row is shorter when K % groupSize != 0), w ≈ q · scale + offset, q in 0..15.
//       The grid starts at round-to-nearest on the group's range (scale = (max − min) / 15, offset =
//       min) and is then refined by alternating least squares (fitInt4Group): refit scale and
//       offset to the codes, re-round the codes to the new grid, keep the step only if the group's
//       squared error drops. So the error never exceeds round-to-nearest's, and it ends (in a few
//       rounds) at a grid that is least squares for its codes, with every code the nearest grid
//       point. Measured at group 32: 6–8% less RMS weight error, and 1 − cosine of fixture-like
//       random models' outputs ×0.68 with group 32 against group 64 round-to-nearest
//       (ARCHITECTURE.md, Checkpoints). A constant group gets scale 0 and is exact.
// Scales are f32 as stored; q and the squared error are computed against the stored (f32) values,
// so what the error test sees is what the GPU's q · scale (+ offset) computes.
//
// GPU layout (what shaders/lib/dequant_w.wgsl reads): each row padded to whole u32 words, element k
// in byte k % 4 of word k / 4 (int8, two's complement) or nibble k % 8 of word k / 8 (int4,
// unsigned, low nibble first); padding is zero. Scales: f32 [N] (int8) or [N, groups, 2] (int4:
// scale, offset). File layout (pre-quantized safetensors): int8 as I8 [N, K]; int4 as U8
// [N, ceil(K / 2)], element k in the low nibble of byte k / 2 when k is even, the high nibble when
// odd. Both are the GPU layout without the row padding, so a row is a byte copy.

export type QuantScheme = 'int8' | 'int4';
export const QUANT_SCHEMES: readonly QuantScheme[] = ['int8', 'int4'];

/** int4 group sizes a checkpoint may use (input channels per scale). */
export const INT4_GROUP_SIZES: readonly number[] = [32, 64, 128];
/** The int4 group size used when quantizing at load (chosen by measurement: ARCHITECTURE.md, Checkpoints). */
export const INT4_GROUP_SIZE = 32;
/**
 * Most least-squares rounds per int4 group (fitInt4Group). Measured on Gaussian, Laplace and
 * Student-t groups of 32: 92–93% converge within 4 rounds, 99.9% within 9; the cap bounds the load time.
 */
export const INT4_REFIT_ROUNDS = 10;

export interface QuantLayout {
  scheme: QuantScheme;
  /** Output channels (rows) and input channels (columns) of W. */
  rows: number;
  cols: number;
  /** Input channels per scale: cols for int8 (one scale per row). */
  groupSize: number;
}

export const quantBits = (s: QuantScheme): 8 | 4 => (s === 'int8' ? 8 : 4);

/** The layout of W [rows, cols] under `scheme` (int4: `groupSize`, default INT4_GROUP_SIZE). */
export function quantLayout(scheme: QuantScheme, rows: number, cols: number, groupSize = INT4_GROUP_SIZE): QuantLayout {
  if (!QUANT_SCHEMES.includes(scheme)) throw new Error(`quantization scheme '${String(scheme)}' is not one of ${QUANT_SCHEMES.join(', ')}`);
  if (scheme === 'int4' && !INT4_GROUP_SIZES.includes(groupSize)) {
    throw new Error(`int4 group size ${groupSize} is not one of ${INT4_GROUP_SIZES.join(', ')}`);
  }
  return { scheme, rows, cols, groupSize: scheme === 'int8' ? cols : groupSize };
}

/** u32 words per row on the GPU. */
export function wordsPerRow(l: QuantLayout): number {
  return Math.ceil((l.cols * quantBits(l.scheme)) / 32);
}

/** Scales per row. */
export function groupsPerRow(l: QuantLayout): number {
  return l.scheme === 'int8' ? 1 : Math.ceil(l.cols / l.groupSize);
}

/** f32 values per row in the scales tensor: 1 (int8), 2 per group (int4: scale, offset). */
export function scalesPerRow(l: QuantLayout): number {
  return l.scheme === 'int8' ? 1 : 2 * groupsPerRow(l);
}

/** Shape of the scales tensor: [rows] for int8, [rows, groups, 2] (scale, offset) for int4. */
export function scalesShape(l: QuantLayout): number[] {
  return l.scheme === 'int8' ? [l.rows] : [l.rows, groupsPerRow(l), 2];
}

/** Bytes of one row in the file layout (I8: cols; U8 nibble pairs: ceil(cols / 2)). */
export function fileRowBytes(l: QuantLayout): number {
  return l.scheme === 'int8' ? l.cols : Math.ceil(l.cols / 2);
}

/** Shape and safetensors dtype of the packed tensor in a pre-quantized file. */
export function fileShape(l: QuantLayout): { dtype: 'I8' | 'U8'; shape: number[] } {
  return l.scheme === 'int8' ? { dtype: 'I8', shape: [l.rows, l.cols] } : { dtype: 'U8', shape: [l.rows, fileRowBytes(l)] };
}

/** GPU bytes of the packed weights plus their f32 scales. */
export function quantBytes(l: QuantLayout): number {
  return l.rows * (wordsPerRow(l) + scalesPerRow(l)) * 4;
}

export interface QuantizedRows {
  /** GPU layout: rows × wordsPerRow words. */
  packed: Uint32Array;
  /** rows × scalesPerRow f32 values (int4: scale, offset per group). */
  scales: Float32Array;
}

/** Quantizes `n` whole rows (values: n × cols, row-major). Throws on a value that is not finite. */
export function quantizeRows(values: ArrayLike<number>, n: number, l: QuantLayout, what = 'weight'): QuantizedRows {
  const { cols, groupSize } = l;
  if (values.length !== n * cols) throw new Error(`${what}: ${values.length} values are not ${n} rows of ${cols}`);
  const kw = wordsPerRow(l);
  const ng = groupsPerRow(l);
  const sp = scalesPerRow(l);
  const bits = quantBits(l.scheme);
  const per = 32 / bits;
  const mask = (1 << bits) - 1;
  const packed = new Uint32Array(n * kw);
  const scales = new Float32Array(n * sp);
  const int4 = l.scheme === 'int4';
  const scratch = int4Scratch(int4 ? groupSize : 0);
  for (let r = 0; r < n; r++) {
    const o = r * cols;
    for (let g = 0; g < ng; g++) {
      const k0 = g * groupSize;
      const k1 = Math.min(cols, k0 + groupSize);
      let lo = Infinity;
      let hi = -Infinity;
      for (let k = k0; k < k1; k++) {
        const v = values[o + k]!;
        if (!Number.isFinite(v)) throw new Error(`${what}: element [${r}, ${k}] is ${v}; only finite weights can be quantized`);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        if (int4) scratch.x[k - k0] = v;
      }
      if (!int4) {
        // int8: q = round(w / s) in -127..127.
        const s = Math.fround(Math.max(hi, -lo) / 127);
        scales[r * sp] = s;
        if (s === 0) continue;
        for (let k = k0; k < k1; k++) {
          const q = Math.max(-127, Math.min(127, Math.round(values[o + k]! / s)));
          const i = r * kw + Math.floor(k / per);
          packed[i] = (packed[i]! | ((q & mask) << ((k % per) * bits))) >>> 0;
        }
        continue;
      }
      fitInt4Group(k1 - k0, lo, hi, scratch, scales, r * sp + 2 * g);
      if (scales[r * sp + 2 * g] === 0) continue;
      for (let k = k0; k < k1; k++) {
        const i = r * kw + Math.floor(k / per);
        packed[i] = (packed[i]! | (scratch.codes[k - k0]! << ((k % per) * bits))) >>> 0;
      }
    }
  }
  return { packed, scales };
}

/** Scratch of one int4 group fit: the group's values, codes and sums, reused across groups. */
interface Int4Scratch {
  x: Float64Array;
  codes: Uint8Array;
  trial: Uint8Array;
  /** What roundToGrid returns: squared error, Σq, Σq², Σq·w, codes changed. */
  sums: Float64Array;
}

function int4Scratch(groupSize: number): Int4Scratch {
  return { x: new Float64Array(groupSize), codes: new Uint8Array(groupSize), trial: new Uint8Array(groupSize), sums: new Float64Array(5) };
}

/**
 * Codes 0..15 nearest to x[0 .. len) on the grid q · s + offset (s > 0) into `codes`; into `sums`:
 * the squared error, Σq, Σq², Σq·w, and how many codes differ from `prev`.
 */
function roundToGrid(x: Float64Array, len: number, s: number, offset: number, codes: Uint8Array, prev: Uint8Array, sums: Float64Array): void {
  const inv = 1 / s;
  let err = 0;
  let sq = 0;
  let sqq = 0;
  let sqw = 0;
  let changed = 0;
  for (let j = 0; j < len; j++) {
    const v = x[j]!;
    // round half up, clamped to 0..15 (the clamp comes first, so `| 0` never sees a large value)
    const t = (v - offset) * inv + 0.5;
    const q = t < 1 ? 0 : t >= 15 ? 15 : t | 0;
    if (q !== prev[j]) changed++;
    codes[j] = q;
    const e = q * s + offset - v;
    err += e * e;
    sq += q;
    sqq += q * q;
    sqw += q * v;
  }
  sums[0] = err;
  sums[1] = sq;
  sums[2] = sqq;
  sums[3] = sqw;
  sums[4] = changed;
}

/**
 * One int4 group (its `len` values in scratch.x, range [lo, hi]) → scale and offset (stored f32)
 * into out[at], out[at + 1], codes in scratch.codes. Starts at round-to-nearest on the range, then
 * alternates: least-squares scale and offset for the current codes (the closed form of a line fit
 * of w on q), codes re-rounded to that grid. A step is kept only if the squared error drops, so it
 * never ends above round-to-nearest; it stops when a step no longer helps (the codes are the
 * nearest points of a grid that is least squares for them) or after INT4_REFIT_ROUNDS.
 * Deterministic: the same values give the same bytes, at load and in `internvit quantize`.
 */
function fitInt4Group(len: number, lo: number, hi: number, scratch: Int4Scratch, out: Float32Array, at: number): void {
  const { x, sums } = scratch;
  let offset = Math.fround(lo);
  let s = Math.fround((hi - offset) / 15);
  out[at] = s;
  out[at + 1] = offset;
  if (s === 0) return;
  let sw = 0;
  for (let j = 0; j < len; j++) sw += x[j]!;
  roundToGrid(x, len, s, offset, scratch.codes, scratch.codes, sums);
  let err = sums[0]!;
  let sq = sums[1]!;
  let sqq = sums[2]!;
  let sqw = sums[3]!;
  for (let round = 0; round < INT4_REFIT_ROUNDS && err > 0; round++) {
    const den = len * sqq - sq * sq;
    if (!(den > 0)) break;
    const s2 = Math.fround((len * sqw - sq * sw) / den);
    if (!(s2 > 0)) break;
    const offset2 = Math.fround((sw - s2 * sq) / len);
    roundToGrid(x, len, s2, offset2, scratch.trial, scratch.codes, sums);
    if (!(sums[0]! < err)) break;
    s = s2;
    offset = offset2;
    err = sums[0]!;
    sq = sums[1]!;
    sqq = sums[2]!;
    sqw = sums[3]!;
    const kept = scratch.trial;
    scratch.trial = scratch.codes;
    scratch.codes = kept;
    // Same codes: the next fit would give this grid again.
    if (sums[4] === 0) break;
  }
  out[at] = s;
  out[at + 1] = offset;
}

/** The integer element k of row r of a GPU-layout buffer (int8 signed, int4 unsigned). */
export function quantElement(packed: Uint32Array, l: QuantLayout, r: number, k: number): number {
  const bits = quantBits(l.scheme);
  const per = 32 / bits;
  const word = packed[r * wordsPerRow(l) + Math.floor(k / per)]!;
  return l.scheme === 'int8' ? (word << (24 - (k % 4) * 8)) >> 24 : (word >>> ((k % 8) * 4)) & 0xf;
}

/**
 * float64 W [rows, cols] that the GPU layout holds: q · scale (int8), q · scale + offset (int4):
 * the reference of the int8 / int4 kernels.
 */
export function dequantize(q: QuantizedRows, l: QuantLayout): Float64Array {
  const out = new Float64Array(l.rows * l.cols);
  const sp = scalesPerRow(l);
  for (let r = 0; r < l.rows; r++) {
    for (let k = 0; k < l.cols; k++) {
      const v = quantElement(q.packed, l, r, k);
      const g = Math.floor(k / l.groupSize);
      out[r * l.cols + k] = l.scheme === 'int8' ? v * q.scales[r * sp]! : v * q.scales[r * sp + 2 * g]! + q.scales[r * sp + 2 * g + 1]!;
    }
  }
  return out;
}

/** GPU layout → file layout (n rows): drops the row padding. */
export function packedToFile(packed: Uint32Array, n: number, l: QuantLayout): Uint8Array {
  const rb = fileRowBytes(l);
  const kwBytes = wordsPerRow(l) * 4;
  const src = new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength);
  const out = new Uint8Array(n * rb);
  for (let r = 0; r < n; r++) out.set(src.subarray(r * kwBytes, r * kwBytes + rb), r * rb);
  return out;
}

/**
 * File layout → GPU layout (n rows). Checks what a corrupt file could break: int8 -128 is never
 * written, and the unused high nibble of an odd-length int4 row must be zero.
 */
export function fileToPacked(bytes: Uint8Array, n: number, l: QuantLayout, what = 'weight'): Uint32Array {
  const rb = fileRowBytes(l);
  if (bytes.byteLength !== n * rb) throw new Error(`${what}: ${bytes.byteLength} bytes are not ${n} rows of ${rb}`);
  const kw = wordsPerRow(l);
  const out = new Uint32Array(n * kw);
  const dst = new Uint8Array(out.buffer);
  for (let r = 0; r < n; r++) {
    const row = bytes.subarray(r * rb, (r + 1) * rb);
    for (let b = 0; b < rb; b++) {
      const v = row[b]!;
      const bad = l.scheme === 'int8' ? v === 0x80 : l.cols % 2 === 1 && b === rb - 1 && v >> 4 !== 0;
      if (bad) throw new Error(`${what}: row ${r} byte ${b} is 0x${v.toString(16)}: not a value this quantizer writes (corrupt file?)`);
    }
    dst.set(row, r * kw * 4);
  }
  return out;
}
