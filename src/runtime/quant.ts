// Weight-only quantization of linear weights W [N, K] (rows = output channels), on the host.
//
// int8: symmetric, one f32 scale per row: scale = max|w| / 127, q = round(w / scale) in -127..127,
//       w ≈ q · scale. A row of zeros gets scale 0.
// int4: asymmetric (a zero point: measured 17–27% less weight error than symmetric at the same group
//       size, ARCHITECTURE.md), per row and group of `groupSize` consecutive input channels (the
//       last group of a row is shorter when K % groupSize != 0): scale = (max − min) / 15, offset =
//       min, q = round((w − min) / scale) in 0..15, w ≈ q · scale + offset. A constant group gets
//       scale 0 and is exact.
// Scales are f32 as stored; q is computed against the stored (f32) values, so the GPU's q · scale
// (+ offset) is the nearest point of the grid it actually uses.
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
export const INT4_GROUP_SIZE = 64;

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
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      // int8: q = round(w / s) in -127..127; int4: q = round((w - offset) / s) in 0..15 over the
      // group's full range. (Clipping the range to the least squared error lowers the RMS error by
      // ~5% but clips exactly the outlier weights that massive-activation channels depend on: it
      // measured worse on those fixtures, ARCHITECTURE.md, Checkpoints.)
      const int8 = l.scheme === 'int8';
      const offset = int8 ? 0 : Math.fround(lo);
      const s = int8 ? Math.fround(Math.max(hi, -lo) / 127) : Math.fround((hi - offset) / 15);
      if (int8) scales[r * sp] = s;
      else {
        scales[r * sp + 2 * g] = s;
        scales[r * sp + 2 * g + 1] = offset;
      }
      if (s === 0) continue;
      for (let k = k0; k < k1; k++) {
        const q = int8 ? Math.max(-127, Math.min(127, Math.round(values[o + k]! / s))) : Math.max(0, Math.min(15, Math.round((values[o + k]! - offset) / s)));
        const i = r * kw + Math.floor(k / per);
        packed[i] = (packed[i]! | ((q & mask) << ((k % per) * bits))) >>> 0;
      }
    }
  }
  return { packed, scales };
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
