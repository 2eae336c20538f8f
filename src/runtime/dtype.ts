// Element types of safetensors files and their conversion to float32 (the runtime's weight type).
// Only F32, F16 and BF16 convert; every other dtype is rejected with the tensor's name and file.

/** Every dtype the safetensors format defines, with its size in bytes. */
export const SAFETENSORS_DTYPE_BYTES = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
} as const;

export type SafetensorsDType = keyof typeof SAFETENSORS_DTYPE_BYTES;

/** The dtypes that convert to float32 (everything InternViT checkpoints ship in). */
export type FloatDType = 'F32' | 'F16' | 'BF16';

export function isSafetensorsDType(d: unknown): d is SafetensorsDType {
  return typeof d === 'string' && Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_BYTES, d);
}

export function isFloatDType(d: string): d is FloatDType {
  return d === 'F32' || d === 'F16' || d === 'BF16';
}

export function dtypeBytes(d: SafetensorsDType): number {
  return SAFETENSORS_DTYPE_BYTES[d];
}

// safetensors is little-endian; typed-array views are host-endian. Every platform that runs WebGPU is
// little-endian, but a big-endian host falls back to DataView rather than returning garbage.
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let f16Table: Float32Array | null = null;

/** All 65536 half-precision values as float32 (256 KiB, built once): exact, so a lookup is the conversion. */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const bits = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    let mant = h & 0x3ff;
    if (exp === 0x1f) {
      bits[h] = sign | 0x7f800000 | (mant << 13); // inf / nan (payload kept)
    } else if (exp !== 0) {
      bits[h] = sign | ((exp + 112) << 23) | (mant << 13); // rebias 15 → 127
    } else if (mant === 0) {
      bits[h] = sign; // ±0
    } else {
      // Subnormal half: normalise into a float32 normal.
      let e = 113; // 127 - 15 + 1
      while ((mant & 0x400) === 0) { mant <<= 1; e--; }
      bits[h] = sign | (e << 23) | ((mant & 0x3ff) << 13);
    }
  }
  f16Table = new Float32Array(bits.buffer);
  return f16Table;
}

/** One IEEE half (given as its 16 bits) as a number, exactly. */
export function f16BitsToF32(h: number): number {
  return halfTable()[h & 0xffff]!;
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** One bfloat16 (its 16 bits) as a number: the bits are the high half of a float32. */
export function bf16BitsToF32(b: number): number {
  scratchBits[0] = (b & 0xffff) << 16;
  return scratch[0]!;
}

/** float32 → bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN. */
export function f32ToBf16Bits(x: number): number {
  scratch[0] = x;
  const u = scratchBits[0]!;
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float32 → IEEE half bits, round to nearest even, with subnormals, overflow to ±inf and NaN. */
export function f32ToF16Bits(x: number): number {
  scratch[0] = x;
  const u = scratchBits[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    const m = mant | 0x800000; // implicit bit
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let r = m >>> shift;
    if (rest > half || (rest === half && (r & 1))) r++;
    return sign | r; // a carry into bit 10 correctly yields the smallest normal
  }
  let r = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (r & 1))) r++; // may carry into inf: correct
  return sign | r;
}

/**
 * Converts raw little-endian tensor bytes to float32. `out` (optional) receives the values at
 * `outOffset` (elements), so streaming uploads can reuse one buffer. Throws for non-float dtypes.
 */
export function toFloat32(bytes: Uint8Array, dtype: string, what = 'tensor', out?: Float32Array, outOffset = 0): Float32Array {
  if (!isFloatDType(dtype)) {
    throw new Error(`${what}: dtype ${dtype} is not supported (only F32, F16 and BF16 convert to float32)`);
  }
  const size = dtype === 'F32' ? 4 : 2;
  if (bytes.byteLength % size !== 0) {
    throw new Error(`${what}: ${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  const n = bytes.byteLength / size;
  const dst = out ?? new Float32Array(n);
  if (outOffset + n > dst.length) throw new Error(`${what}: output has room for ${dst.length - outOffset} values, need ${n}`);
  if (!HOST_LITTLE_ENDIAN) return convertWithDataView(bytes, dtype, dst, outOffset, n);
  // Typed-array views need aligned offsets; copy once when the bytes are not.
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  if (dtype === 'F32') {
    dst.set(new Float32Array(aligned.buffer, aligned.byteOffset, n), outOffset);
  } else {
    // Bit copies through Int32Array (no float round trip, ~2× faster than Uint32Array stores in V8).
    const src = new Uint16Array(aligned.buffer, aligned.byteOffset, n);
    const dstBits = new Int32Array(dst.buffer, dst.byteOffset + outOffset * 4, n);
    if (dtype === 'BF16') {
      // Two bf16 per 32-bit load when the bytes are 4-aligned: low half → element 2i, high → 2i+1.
      let i = 0;
      if (aligned.byteOffset % 4 === 0) {
        const pairs = new Uint32Array(aligned.buffer, aligned.byteOffset, n >> 1);
        for (let j = 0; j < pairs.length; j++) {
          const w = pairs[j]!;
          dstBits[2 * j] = w << 16;
          dstBits[2 * j + 1] = w & 0xffff0000;
        }
        i = pairs.length * 2;
      }
      for (; i < n; i++) dstBits[i] = src[i]! << 16;
    } else {
      const table = new Int32Array(halfTable().buffer);
      for (let i = 0; i < n; i++) dstBits[i] = table[src[i]!]!;
    }
  }
  return dst;
}

function convertWithDataView(bytes: Uint8Array, dtype: FloatDType, dst: Float32Array, at: number, n: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) {
    if (dtype === 'F32') dst[at + i] = view.getFloat32(i * 4, true);
    else if (dtype === 'BF16') dst[at + i] = bf16BitsToF32(view.getUint16(i * 2, true));
    else dst[at + i] = f16BitsToF32(view.getUint16(i * 2, true));
  }
  return dst;
}

/**
 * Encodes numbers into little-endian bytes of `dtype` (the safetensors writer uses this).
 * F16/BF16 round to nearest even; integer dtypes require integers in range.
 */
export function encodeValues(values: ArrayLike<number>, dtype: SafetensorsDType, what = 'tensor'): Uint8Array {
  const n = values.length;
  const size = SAFETENSORS_DTYPE_BYTES[dtype];
  const out = new Uint8Array(n * size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    const o = i * size;
    switch (dtype) {
      case 'F64': view.setFloat64(o, v, true); break;
      case 'F32': view.setFloat32(o, v, true); break;
      case 'F16': view.setUint16(o, f32ToF16Bits(v), true); break;
      case 'BF16': view.setUint16(o, f32ToBf16Bits(v), true); break;
      case 'I64': view.setBigInt64(o, BigInt(checkInt(v, what)), true); break;
      case 'U64': view.setBigUint64(o, BigInt(checkInt(v, what)), true); break;
      case 'I32': view.setInt32(o, checkInt(v, what), true); break;
      case 'U32': view.setUint32(o, checkInt(v, what), true); break;
      case 'I16': view.setInt16(o, checkInt(v, what), true); break;
      case 'U16': view.setUint16(o, checkInt(v, what), true); break;
      case 'I8': view.setInt8(o, checkInt(v, what)); break;
      case 'U8': case 'BOOL': view.setUint8(o, checkInt(v, what)); break;
      default: throw new Error(`${what}: cannot encode numbers as ${dtype}`);
    }
  }
  return out;
}

function checkInt(v: number, what: string): number {
  if (!Number.isInteger(v)) throw new Error(`${what}: ${v} is not an integer`);
  return v;
}

/** The 16-bit types weights can stay in on the GPU (read as packed pairs, widened to f32 in kernels). */
export type HalfDType = 'bf16' | 'f16';

const F16_MAX = 65504;

/**
 * Numbers → 16-bit patterns of `dtype`, round to nearest even. For f16, a finite value beyond ±65504
 * throws (it would become ±inf) and names `what`; tiny values become f16 subnormals or zero.
 */
export function toHalfBits(values: ArrayLike<number>, dtype: HalfDType, what = 'tensor', out?: Uint16Array): Uint16Array {
  const n = values.length;
  const dst = out ?? new Uint16Array(n);
  if (dst.length < n) throw new Error(`${what}: output has room for ${dst.length} values, need ${n}`);
  if (dtype === 'bf16') {
    for (let i = 0; i < n; i++) dst[i] = f32ToBf16Bits(values[i]!);
    return dst;
  }
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (Math.abs(v) > F16_MAX && Number.isFinite(v)) {
      // Values that round to 65504 are still representable; only the ones that round to inf fail.
      const bits = f32ToF16Bits(v);
      if ((bits & 0x7fff) === 0x7c00) throw new Error(`${what}: value ${v} at element ${i} does not fit f16 (largest 65504); keep this tensor in bf16 or f32`);
    }
    dst[i] = f32ToF16Bits(v);
  }
  return dst;
}

/**
 * Raw little-endian safetensors bytes (F32, F16 or BF16) → 16-bit patterns of `dtype`. When the
 * bytes already are `dtype` this is a copy (BF16 → bf16 and F16 → f16 are lossless); otherwise the
 * values go through float32 and toHalfBits.
 */
export function toHalf(bytes: Uint8Array, srcDType: string, dtype: HalfDType, what = 'tensor'): Uint16Array {
  if (HOST_LITTLE_ENDIAN && srcDType === (dtype === 'bf16' ? 'BF16' : 'F16')) {
    if (bytes.byteLength % 2 !== 0) throw new Error(`${what}: ${bytes.byteLength} bytes is not a whole number of ${srcDType} elements`);
    const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
    return new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
  }
  return toHalfBits(toFloat32(bytes, srcDType, what), dtype, what);
}

/** 16-bit patterns of `dtype` → float32, exactly. */
export function halfBitsToF32(bits: ArrayLike<number>, dtype: HalfDType): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = dtype === 'bf16' ? bf16BitsToF32(bits[i]!) : f16BitsToF32(bits[i]!);
  return out;
}
