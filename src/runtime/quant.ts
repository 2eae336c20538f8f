// Weight-only quantization of linear weights W [N, K] (rows = output channels), on the host.
//
// int8: symmetric, one f32 scale per row: scale = max|w| / 127, q = round(w / scale) in -127..127.
// int4: symmetric, one f32 scale per row and group of `groupSize` consecutive input channels
//       (the last group of a row is shorter when K % groupSize != 0): scale = max|w| / 7, q in -7..7.
// A row (or group) of zeros gets scale 0 and q 0. Dequantized: w ≈ q · scale (f32 product).
//
// GPU layout (what shaders/lib/dequant_w.wgsl reads): each row padded to whole u32 words, element k
// in byte k % 4 of word k / 4 (int8) or nibble k % 8 of word k / 8 (int4, low nibble first); padding
// is zero. File layout (pre-quantized safetensors): int8 as I8 [N, K]; int4 as U8 [N, ceil(K / 2)],
// element k in the low nibble of byte k / 2 when k is even, the high nibble when odd. Both are the
// GPU layout without the row padding, so a row is a byte copy.

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
const qmax = (s: QuantScheme): number => (s === 'int8' ? 127 : 7);

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

/** Shape of the scales tensor: [rows] for int8, [rows, groups] for int4. */
export function scalesShape(l: QuantLayout): number[] {
  return l.scheme === 'int8' ? [l.rows] : [l.rows, groupsPerRow(l)];
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
  return l.rows * (wordsPerRow(l) + groupsPerRow(l)) * 4;
}

export interface QuantizedRows {
  /** GPU layout: rows × wordsPerRow words. */
  packed: Uint32Array;
  /** rows × groupsPerRow f32 scales. */
  scales: Float32Array;
}

/** Quantizes `n` whole rows (values: n × cols, row-major). Throws on a value that is not finite. */
export function quantizeRows(values: ArrayLike<number>, n: number, l: QuantLayout, what = 'weight'): QuantizedRows {
  const { cols, groupSize } = l;
  if (values.length !== n * cols) throw new Error(`${what}: ${values.length} values are not ${n} rows of ${cols}`);
  const kw = wordsPerRow(l);
  const ng = groupsPerRow(l);
  const bits = quantBits(l.scheme);
  const per = 32 / bits;
  const mask = (1 << bits) - 1;
  const top = qmax(l.scheme);
  const packed = new Uint32Array(n * kw);
  const scales = new Float32Array(n * ng);
  for (let r = 0; r < n; r++) {
    const o = r * cols;
    for (let g = 0; g < ng; g++) {
      const k0 = g * groupSize;
      const k1 = Math.min(cols, k0 + groupSize);
      let amax = 0;
      for (let k = k0; k < k1; k++) {
        const v = values[o + k]!;
        if (!Number.isFinite(v)) throw new Error(`${what}: element [${r}, ${k}] is ${v}; only finite weights can be quantized`);
        amax = Math.max(amax, Math.abs(v));
      }
      // The scale is stored as f32 and q is computed against that stored value, so q · scale on the
      // GPU is the nearest grid point of the grid it actually uses.
      const s = Math.fround(amax / top);
      scales[r * ng + g] = s;
      if (s === 0) continue;
      for (let k = k0; k < k1; k++) {
        const q = Math.max(-top, Math.min(top, Math.round(values[o + k]! / s)));
        const i = r * kw + Math.floor(k / per);
        packed[i] = (packed[i]! | ((q & mask) << ((k % per) * bits))) >>> 0;
      }
    }
  }
  return { packed, scales };
}

/** The signed integer element k of row r of a GPU-layout buffer. */
export function quantElement(packed: Uint32Array, l: QuantLayout, r: number, k: number): number {
  const bits = quantBits(l.scheme);
  const per = 32 / bits;
  const word = packed[r * wordsPerRow(l) + Math.floor(k / per)]!;
  return (word << (32 - bits - (k % per) * bits)) >> (32 - bits);
}

/** float64 W [rows, cols] that the GPU layout holds: q · scale (the reference of the int8/int4 kernels). */
export function dequantize(q: QuantizedRows, l: QuantLayout): Float64Array {
  const out = new Float64Array(l.rows * l.cols);
  const ng = groupsPerRow(l);
  for (let r = 0; r < l.rows; r++) {
    for (let k = 0; k < l.cols; k++) {
      out[r * l.cols + k] = quantElement(q.packed, l, r, k) * Math.fround(q.scales[r * ng + Math.floor(k / l.groupSize)]!);
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
 * File layout → GPU layout (n rows). Checks what a corrupt file could break: int4 values must be in
 * -7..7 (-8 is never written) and the unused high nibble of an odd-length row must be zero.
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
      const bad = l.scheme === 'int8' ? v === 0x80 : (v & 0xf) === 8 || (v >> 4) === 8 || (l.cols % 2 === 1 && b === rb - 1 && v >> 4 !== 0);
      if (bad) throw new Error(`${what}: row ${r} byte ${b} is 0x${v.toString(16)}: not a value this quantizer writes (corrupt file?)`);
    }
    dst.set(row, r * kw * 4);
  }
  return out;
}
