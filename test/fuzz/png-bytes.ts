// PNG files built byte by byte for the image tests (valid chunks with their CRCs, headers that
// claim any size). Browser-safe: the Chromium image page uses it too.

const enc = (s: string) => new TextEncoder().encode(s);

function setU32(b: Uint8Array, at: number, v: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, v >>> 0);
}

/** Recomputes the CRC-32 of the chunk at `at` (over type + data), so a mutation keeps it valid. */
export function fixCrc(b: Uint8Array, at: number): void {
  const len = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at);
  let c = 0xffffffff;
  for (let i = at + 4; i < at + 8 + len; i++) {
    c ^= b[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  setU32(b, at + 8 + len, (c ^ 0xffffffff) >>> 0);
}

/** One chunk: length, type, data, CRC. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(12 + data.length);
  setU32(b, 0, data.length);
  b.set(enc(type), 4);
  b.set(data, 8);
  fixCrc(b, 0);
  return b;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** An 8-bit RGB PNG of width × height around an IDAT of `zlib` bytes (interlace 0 or 1). */
export function pngFile(width: number, height: number, zlib: Uint8Array, interlace = 0): Uint8Array {
  const ihdr = new Uint8Array(13);
  setU32(ihdr, 0, width);
  setU32(ihdr, 4, height);
  ihdr.set([8, 2, 0, 0, interlace], 8);
  return Uint8Array.from([...SIGNATURE, ...pngChunk('IHDR', ihdr), ...pngChunk('IDAT', zlib), ...pngChunk('IEND', new Uint8Array(0))]);
}

/** A PNG of a few dozen bytes that claims width × height pixels (its IDAT holds almost nothing). */
export function pngClaiming(width: number, height: number): Uint8Array {
  // A zlib stream of four zero bytes (one stored block).
  return pngFile(width, height, Uint8Array.from([0x78, 0x01, 0x01, 0x04, 0x00, 0xfb, 0xff, 0, 0, 0, 0, 0x00, 0x04, 0x00, 0x01]));
}
