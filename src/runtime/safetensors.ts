// safetensors: an 8-byte little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets: [begin, end]}, __metadata__?: {str: str}}, then the tensor bytes (offsets relative to
// the end of the header). Files are untrusted input: every field is checked before any offset is used,
// and errors name the file and the tensor. Reading is header first, then one byte range per tensor,
// so a checkpoint never has to sit in host memory.
import {
  encodeValues, isSafetensorsDType, SAFETENSORS_DTYPE_BYTES, toFloat32, type SafetensorsDType,
} from './dtype.js';

/** Random access to the bytes of one file (local file, HTTP range requests, memory, Blob). */
export interface ByteSource {
  /** The file's path or URL, used in every error message. */
  readonly name: string;
  size(): Promise<number>;
  /** Exactly `length` bytes from `offset`, or a rejection naming the file. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
  /** Where the last read's bytes came from (progress reports count them); absent for local files and memory. */
  readonly origin?: 'cache' | 'network';
}

/** One tensor of a safetensors header, with absolute byte offsets into its file. */
export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Absolute offset of the first byte in the file (header length included). */
  offset: number;
  byteLength: number;
  /** The file holding it (ByteSource.name). */
  file: string;
}

export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  /** Bytes before the data section: 8 + the JSON header. */
  dataOffset: number;
  /** Tensors in header order. */
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  constructor(readonly file: string, readonly tensor: string | undefined, detail: string) {
    super(`${file}: ${tensor !== undefined ? `tensor '${tensor}': ` : ''}${detail}`);
    this.name = 'SafetensorsError';
  }
}

/** Headers beyond this are refused before allocating (real ones are well under 1 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Reads the header length (first 8 bytes) and checks it against the file size. */
export function parseHeaderLength(first8: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8 || first8.byteLength < 8) {
    throw new SafetensorsError(file, undefined, `file is ${fileSize} bytes, too short for the 8-byte header length (truncated or not a safetensors file)`);
  }
  const big = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (big > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(file, undefined, `header length ${big} is absurd (limit ${MAX_HEADER_BYTES} bytes): not a safetensors file, or corrupt`);
  }
  const n = Number(big);
  if (8 + n > fileSize) {
    throw new SafetensorsError(file, undefined, `header length ${n} runs past the end of the ${fileSize}-byte file (truncated or corrupt)`);
  }
  if (n < 2) throw new SafetensorsError(file, undefined, `header length ${n} is too small for a JSON object`);
  return n;
}

/** Parses and checks the JSON header. `headerBytes` is the JSON text (without the 8-byte length). */
export function parseHeaderJson(headerBytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const dataOffset = 8 + headerBytes.byteLength;
  const dataLength = fileSize - dataOffset;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new SafetensorsError(file, undefined, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) throw new SafetensorsError(file, undefined, 'header JSON is not an object');

  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  const ranges: { name: string; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(entry)) throw new SafetensorsError(file, undefined, '__metadata__ is not an object');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw new SafetensorsError(file, undefined, `__metadata__ value for '${k}' is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const fail = (detail: string): never => { throw new SafetensorsError(file, name, detail); };
    if (!isPlainObject(entry)) fail('header entry is not an object');
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (!isSafetensorsDType(dtype)) fail(`unknown dtype ${JSON.stringify(dtype)}`);
    const dt = dtype as SafetensorsDType;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
    }
    const dims = shape as number[];
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`data_offsets [${begin}, ${end}] are reversed (end before begin)`);
    const numel = dims.reduce((a, b) => a * b, 1);
    const want = numel * SAFETENSORS_DTYPE_BYTES[dt];
    if (!Number.isSafeInteger(want) || end - begin !== want) {
      fail(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape [${dims.join(', ')}] ${dt} needs ${want}`);
    }
    if (end > dataLength) {
      fail(`data_offsets [${begin}, ${end}] run past the end of the data section (${dataLength} bytes): file truncated or header corrupt`);
    }
    ranges.push({ name, begin, end });
    tensors.set(name, { name, dtype: dt, shape: [...dims], offset: dataOffset + begin, byteLength: end - begin, file });
  }
  // Tensors may be listed in any order, but their byte ranges must not overlap (empty ones never do).
  const nonEmpty = ranges.filter((r) => r.end > r.begin).sort((a, b) => a.begin - b.begin);
  let last: { name: string; begin: number; end: number } | undefined;
  for (const cur of nonEmpty) {
    if (last && cur.begin < last.end) {
      throw new SafetensorsError(file, cur.name, `data_offsets [${cur.begin}, ${cur.end}] overlap tensor '${last.name}' [${last.begin}, ${last.end}]`);
    }
    if (!last || cur.end > last.end) last = cur;
  }
  return { file, fileSize, dataOffset, tensors, metadata };
}

/** Reads only the header of a file: two small reads, whatever the file's size. */
export async function readSafetensorsHeader(source: ByteSource): Promise<SafetensorsHeader> {
  const fileSize = await source.size();
  const first8 = fileSize >= 8 ? await source.read(0, 8) : new Uint8Array(0);
  const n = parseHeaderLength(first8, fileSize, source.name);
  return parseHeaderJson(await source.read(8, n), fileSize, source.name);
}

/** A safetensors file opened header-first; tensors are read one byte range at a time. */
export interface SafetensorsFile {
  header: SafetensorsHeader;
  source: ByteSource;
  /** Names in header order. */
  names(): string[];
  info(name: string): TensorInfo;
  /** The tensor's raw bytes (little-endian, as stored). */
  read(name: string): Promise<Uint8Array>;
  /** The tensor as float32 (F32, F16 and BF16 only). */
  readFloat32(name: string): Promise<Float32Array>;
}

export async function openSafetensors(source: ByteSource): Promise<SafetensorsFile> {
  const header = await readSafetensorsHeader(source);
  const info = (name: string): TensorInfo => {
    const t = header.tensors.get(name);
    if (!t) throw new SafetensorsError(source.name, name, 'no such tensor in this file');
    return t;
  };
  return {
    header,
    source,
    names: () => [...header.tensors.keys()],
    info,
    read: async (name) => readTensorBytes(source, info(name)),
    readFloat32: async (name) => {
      const t = info(name);
      return toFloat32(await readTensorBytes(source, t), t.dtype, `${t.file}: tensor '${name}'`);
    },
  };
}

export async function readTensorBytes(source: ByteSource, t: TensorInfo): Promise<Uint8Array> {
  const bytes = await source.read(t.offset, t.byteLength);
  if (bytes.byteLength !== t.byteLength) {
    throw new SafetensorsError(t.file, t.name, `read ${bytes.byteLength} of ${t.byteLength} bytes (file truncated?)`);
  }
  return bytes;
}

/** A whole file already in memory (outputs, small fixtures). */
export function memorySource(bytes: Uint8Array, name = 'memory.safetensors'): ByteSource {
  return {
    name,
    size: async () => bytes.byteLength,
    read: async (offset, length) => {
      if (offset < 0 || length < 0 || offset + length > bytes.byteLength) {
        throw new Error(`${name}: read of ${length} bytes at ${offset} is beyond the ${bytes.byteLength}-byte file (truncated?)`);
      }
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** Parses a safetensors file held in memory; the returned bytes are views into `bytes`. */
export function parseSafetensors(bytes: Uint8Array, file = 'memory.safetensors'): {
  header: SafetensorsHeader;
  tensors: Map<string, { info: TensorInfo; bytes: Uint8Array }>;
} {
  const n = parseHeaderLength(bytes.subarray(0, 8), bytes.byteLength, file);
  const header = parseHeaderJson(bytes.subarray(8, 8 + n), bytes.byteLength, file);
  const tensors = new Map<string, { info: TensorInfo; bytes: Uint8Array }>();
  for (const [name, info] of header.tensors) {
    tensors.set(name, { info, bytes: bytes.subarray(info.offset, info.offset + info.byteLength) });
  }
  return { header, tensors };
}

/** Every tensor of an in-memory file as float32, by name (F32/F16/BF16 files). */
export function readSafetensorsFloat32(bytes: Uint8Array, file = 'memory.safetensors'): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, { info, bytes: b }] of parseSafetensors(bytes, file).tensors) {
    out.set(name, { shape: info.shape, data: toFloat32(b, info.dtype, `${file}: tensor '${name}'`) });
  }
  return out;
}

/**
 * What the writer takes per tensor. `data`:
 *  - Uint8Array: the raw little-endian bytes, written as they are;
 *  - Uint16Array with F16/BF16: the raw 16-bit patterns;
 *  - any other array of numbers: values, encoded into `dtype` (F16/BF16 round to nearest even).
 */
export interface WriteTensor {
  dtype: SafetensorsDType;
  shape: readonly number[];
  data: Uint8Array | Uint16Array | ArrayLike<number>;
}

/**
 * Writes a safetensors file: tensors in the given order, contiguous, header padded with spaces to a
 * multiple of 8 bytes (as the reference writer does, so data stays 8-byte aligned).
 */
export function writeSafetensors(tensors: Record<string, WriteTensor>, metadata?: Record<string, string>): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') throw new Error(`writeSafetensors: '__metadata__' is reserved, not a tensor name`);
    if (!isSafetensorsDType(t.dtype)) throw new Error(`writeSafetensors: tensor '${name}': unknown dtype ${String(t.dtype)}`);
    const bytes = tensorBytes(name, t);
    const want = t.shape.reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPE_BYTES[t.dtype];
    if (bytes.byteLength !== want) {
      throw new Error(`writeSafetensors: tensor '${name}': ${bytes.byteLength} bytes of data but shape [${t.shape.join(', ')}] ${t.dtype} needs ${want}`);
    }
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.byteLength] };
    blobs.push(bytes);
    offset += bytes.byteLength;
  }
  const head = encodeHeader(header);
  const out = new Uint8Array(head.byteLength + offset);
  out.set(head, 0);
  let at = head.byteLength;
  for (const b of blobs) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}

/** The 8-byte length and the JSON header, padded with spaces to a multiple of 8 bytes. */
function encodeHeader(header: Record<string, unknown>): Uint8Array<ArrayBuffer> {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

/**
 * The start of a safetensors file whose tensors are written afterwards, in this order and
 * contiguously, by the caller (a writer for files too large to hold in memory): the header bytes
 * and the total data bytes that must follow.
 */
export function safetensorsHead(tensors: readonly { name: string; dtype: SafetensorsDType; shape: readonly number[] }[], metadata?: Record<string, string>): { head: Uint8Array<ArrayBuffer>; dataBytes: number } {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || Object.hasOwn(header, t.name)) throw new Error(`safetensorsHead: tensor name '${t.name}' is reserved or repeated`);
    const bytes = t.shape.reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  return { head: encodeHeader(header), dataBytes: offset };
}

function tensorBytes(name: string, t: WriteTensor): Uint8Array {
  const d = t.data;
  if (d instanceof Uint8Array) return d;
  if (d instanceof Float32Array && t.dtype === 'F32' && HOST_LITTLE_ENDIAN) {
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }
  if (d instanceof Uint16Array && (t.dtype === 'F16' || t.dtype === 'BF16')) {
    return encodeValues(d, 'U16', `writeSafetensors: tensor '${name}'`);
  }
  return encodeValues(d, t.dtype, `writeSafetensors: tensor '${name}'`);
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
