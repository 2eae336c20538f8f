// Encoded images are untrusted input. Before any decoder runs, this module reads the image's size
// from its header (PNG IHDR, JPEG SOF, WebP VP8/VP8L/VP8X, GIF, BMP) and refuses images above a
// pixel limit, so a 30000×30000 PNG of a few hundred bytes costs milliseconds instead of gigabytes.
// PNG and JPEG are also checked for structure (chunk lengths and CRCs, IEND; marker lengths, EOI),
// so truncated or corrupt files are refused with a message that says what is wrong and where,
// instead of decoding into a silently partial image. Browser-safe: no node: imports.

/**
 * Pillow's decompression-bomb error threshold (2 × Image.MAX_IMAGE_PIXELS = 2 × 89,478,485): images
 * with more pixels are refused from their header. RGBA at this size is 716 MB of host memory.
 */
export const DEFAULT_MAX_IMAGE_PIXELS = 178_956_970;

export class ImageError extends Error {
  constructor(readonly image: string, detail: string) {
    super(`image '${image}': ${detail}`);
    this.name = 'ImageError';
  }
}

export function imageFail(name: string, problem: string): never {
  throw new ImageError(name, problem);
}

/** The limit as given by a caller (option or flag), checked; undefined → the default. */
export function resolveMaxImagePixels(max: number | undefined): number {
  if (max === undefined) return DEFAULT_MAX_IMAGE_PIXELS;
  if (typeof max !== 'number' || !(max >= 1) || (!Number.isSafeInteger(max) && max !== Infinity)) {
    throw new Error(`maxImagePixels must be a positive integer or Infinity (got ${String(max)})`);
  }
  return max;
}

/** Refuses an image whose width × height exceeds the limit (before anything is decoded or drawn). */
export function checkImagePixels(width: number, height: number, name: string, maxImagePixels?: number): void {
  const max = resolveMaxImagePixels(maxImagePixels);
  const pixels = width * height;
  if (pixels > max) {
    imageFail(name, `${width}×${height} is ${pixels} pixels, more than the limit of ${max} ` +
      '(maxImagePixels / --max-image-pixels; a decompression-bomb guard, as in Pillow): downscale the image or raise the limit');
  }
}

export interface ImageHeader {
  format: 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp';
  width: number;
  height: number;
}

export interface PngHeader extends ImageHeader {
  format: 'png';
  depth: number;
  colorType: number;
  interlace: number;
  /** The IDAT payloads in order (views into the file). */
  idat: Uint8Array[];
  /** Bytes the zlib stream must inflate to: filter byte + packed samples per row, over every pass. */
  inflatedBytes: number;
}

const u32 = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const u16le = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);

// ------------------------------------------------------------------------------------------ PNG

let crcTable: Uint32Array | null = null;
function crc32(b: Uint8Array, from: number, to: number): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = from; i < to; i++) c = crcTable[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Bit depths allowed per colour type (PNG spec, table 11.1) and samples per pixel. */
const PNG_TYPES: Record<number, { depths: number[]; channels: number }> = {
  0: { depths: [1, 2, 4, 8, 16], channels: 1 },
  2: { depths: [8, 16], channels: 3 },
  3: { depths: [1, 2, 4, 8], channels: 1 },
  4: { depths: [8, 16], channels: 2 },
  6: { depths: [8, 16], channels: 4 },
};

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Adam7 passes: x0, y0, dx, dy. */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;

function pngInflatedBytes(width: number, height: number, bitsPerPixel: number, interlace: number): number {
  const rowBytes = (w: number) => Math.ceil((w * bitsPerPixel) / 8) + 1;
  if (!interlace) return rowBytes(width) * height;
  let total = 0;
  for (const [x0, y0, dx, dy] of ADAM7) {
    const w = Math.ceil((width - x0) / dx);
    const h = Math.ceil((height - y0) / dy);
    if (w > 0 && h > 0) total += rowBytes(w) * h;
  }
  return total;
}

/**
 * Reads IHDR, refuses the image if it is above the pixel limit, then walks every chunk: lengths
 * inside the file, CRCs, IHDR fields, a palette for palette images, IDAT present, IEND present.
 */
export function readPngHeader(b: Uint8Array, name: string, maxImagePixels?: number): PngHeader {
  const corrupt: (what: string) => never = (what) => imageFail(name, `corrupt PNG: ${what}`);
  if (b.length < 8 + 25) corrupt(`only ${b.length} bytes, too short for the signature and IHDR (truncated)`);
  if (!PNG_SIGNATURE.every((v, i) => b[i] === v)) corrupt('no PNG signature');
  if (u32(b, 8) !== 13 || String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!) !== 'IHDR') corrupt('the first chunk is not a 13-byte IHDR');
  const width = u32(b, 16);
  const height = u32(b, 20);
  const [depth, colorType, compression, filter, interlace] = [b[24]!, b[25]!, b[26]!, b[27]!, b[28]!];
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) corrupt(`IHDR size ${width}×${height} is invalid`);
  // The size is known: refuse a decompression bomb before looking at anything else.
  checkImagePixels(width, height, name, maxImagePixels);
  const type = PNG_TYPES[colorType];
  if (!type) corrupt(`IHDR colour type ${colorType} is invalid`);
  if (!type.depths.includes(depth)) corrupt(`IHDR bit depth ${depth} is invalid for colour type ${colorType}`);
  if (compression !== 0 || filter !== 0 || interlace > 1) corrupt(`IHDR compression/filter/interlace ${compression}/${filter}/${interlace} are invalid`);

  const idat: Uint8Array[] = [];
  let pos = 8;
  let sawPalette = false;
  let ended = false;
  let lastType = '';
  while (pos < b.length) {
    if (pos + 12 > b.length) corrupt(`truncated: the chunk header at byte ${pos} is cut off (the file ends at ${b.length})`);
    const len = u32(b, pos);
    const typeBytes = b.subarray(pos + 4, pos + 8);
    const ctype = String.fromCharCode(...typeBytes);
    if (!/^[A-Za-z]{4}$/.test(ctype)) corrupt(`chunk at byte ${pos} has an invalid type (bytes ${Array.from(typeBytes, (v) => v.toString(16).padStart(2, '0')).join(' ')})`);
    if (len > 0x7fffffff) corrupt(`chunk '${ctype}' at byte ${pos} has an invalid length ${len}`);
    const end = pos + 12 + len;
    if (end > b.length) corrupt(`truncated: chunk '${ctype}' at byte ${pos} claims ${len} bytes, the file has ${b.length - pos - 12} after its header`);
    if (crc32(b, pos + 4, pos + 8 + len) !== u32(b, pos + 8 + len)) corrupt(`chunk '${ctype}' at byte ${pos} fails its CRC check`);
    if (ctype === 'IHDR' && pos !== 8) corrupt(`a second IHDR chunk at byte ${pos}`);
    if (ctype === 'PLTE') {
      if (len === 0 || len % 3 !== 0 || len > 768) corrupt(`PLTE chunk at byte ${pos} has length ${len} (a multiple of 3, at most 768)`);
      sawPalette = true;
    }
    if (ctype === 'IDAT') {
      if (idat.length > 0 && lastType !== 'IDAT') corrupt(`IDAT chunks at byte ${pos} are not consecutive`);
      if (colorType === 3 && !sawPalette) corrupt('palette image without a PLTE chunk before its image data');
      idat.push(b.subarray(pos + 8, pos + 8 + len));
    }
    lastType = ctype;
    pos = end;
    if (ctype === 'IEND') {
      ended = true;
      break;
    }
  }
  if (idat.length === 0) corrupt('no image data (IDAT chunk)');
  if (!ended) corrupt('truncated: no IEND chunk at the end');
  const bitsPerPixel = depth * type.channels;
  return { format: 'png', width, height, depth, colorType, interlace, idat, inflatedBytes: pngInflatedBytes(width, height, bitsPerPixel, interlace) };
}

/**
 * Inflates the IDAT stream (DecompressionStream: Node ≥ 18 and browsers), stopping as soon as it
 * exceeds the size the header implies, and refuses a stream that is short (truncated data), long
 * (a decompression bomb hiding behind small dimensions) or not valid zlib.
 */
export async function checkPngData(h: PngHeader, name: string): Promise<void> {
  const corrupt: (what: string) => never = (what) => imageFail(name, `corrupt PNG: ${what}`);
  const DS = (globalThis as { DecompressionStream?: typeof DecompressionStream }).DecompressionStream;
  if (!DS) return; // no way to look inside; the decoder's own checks remain
  const want = h.inflatedBytes;
  const stream = new Blob(h.idat as BlobPart[]).stream().pipeThrough(new DS('deflate'));
  const reader = stream.getReader();
  let got = 0;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (got >= want) break; // junk after a complete stream: the image data is all there
        corrupt(`the compressed image data (IDAT) is invalid or cut short after ${got} of ${want} bytes (${(e as Error).message})`);
      }
      if (chunk.done) break;
      got += chunk.value.byteLength;
      if (got > want) {
        corrupt(`the image data (IDAT) inflates to more than the ${want} bytes a ${h.width}×${h.height} image needs (corrupt, or a decompression bomb)`);
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  if (got < want) corrupt(`truncated image data: IDAT inflates to ${got} bytes, a ${h.width}×${h.height} image needs ${want}`);
}

// ----------------------------------------------------------------------------------------- JPEG

export interface JpegHeader extends ImageHeader {
  format: 'jpeg';
  /** Components in the frame (1 grey, 3 YCbCr, 4 CMYK). */
  components: number;
  /** Largest horizontal and vertical sampling factors (the MCU is 8·max pixels wide/high). */
  maxH: number;
  maxV: number;
}

/**
 * Most scans a JPEG may have. Real progressive JPEGs have about 10; each scan makes the decoder
 * walk every block again, so thousands of tiny scans in a small file would keep it busy for minutes.
 */
export const MAX_JPEG_SCANS = 500;

const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/**
 * Walks the markers: every segment length inside the file, a frame header (SOF) before the first
 * scan, the size checked against the limit as soon as SOF is read, and an end-of-image marker after
 * the entropy-coded data (a missing EOI means the file was cut short).
 */
export function readJpegHeader(b: Uint8Array, name: string, maxImagePixels?: number): JpegHeader {
  const corrupt: (what: string) => never = (what) => imageFail(name, `corrupt JPEG: ${what}`);
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) corrupt('no start-of-image marker');
  let frame: JpegHeader | null = null;
  let scans = 0;
  let pos = 2;
  for (;;) {
    if (pos >= b.length) corrupt(`truncated: the file ends at byte ${b.length} ${scans ? 'inside the image data (no end-of-image marker)' : 'before the image data'}`);
    if (b[pos] !== 0xff) corrupt(`expected a marker at byte ${pos}, found 0x${b[pos]!.toString(16).padStart(2, '0')}`);
    while (pos < b.length && b[pos] === 0xff) pos++; // fill bytes
    if (pos >= b.length) continue; // reported as truncated above
    const m = b[pos++]!;
    if (m === 0xd9) {
      if (!frame || scans === 0) corrupt(`end-of-image marker at byte ${pos - 2} before any image data`);
      return frame;
    }
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd7)) continue; // standalone markers
    if (m === 0x00 || m === 0xd8) corrupt(`unexpected marker 0xff${m.toString(16).padStart(2, '0')} at byte ${pos - 2}`);
    if (pos + 2 > b.length) corrupt(`truncated: the segment length at byte ${pos} is cut off`);
    const len = u16(b, pos);
    if (len < 2) corrupt(`marker 0xff${m.toString(16)} at byte ${pos - 2} has an invalid length ${len}`);
    if (pos + len > b.length) corrupt(`truncated: marker 0xff${m.toString(16)} at byte ${pos - 2} claims ${len} bytes, the file has ${b.length - pos}`);
    const seg = b.subarray(pos + 2, pos + len);
    pos += len;
    if (isSof(m)) {
      if (frame) corrupt(`a second frame header (SOF) at byte ${pos - len - 2}`);
      if (seg.length < 6) corrupt(`frame header (SOF) of ${len} bytes is too short`);
      const height = u16(seg, 1);
      const width = u16(seg, 3);
      const components = seg[5]!;
      if (width === 0) corrupt('frame header (SOF) gives width 0');
      if (height === 0) corrupt('frame header (SOF) gives height 0 (a DNL marker height, which is not supported)');
      checkImagePixels(width, height, name, maxImagePixels);
      if (components === 0 || seg.length !== 6 + 3 * components) corrupt(`frame header (SOF) of ${len} bytes does not hold its ${components} components`);
      let maxH = 1;
      let maxV = 1;
      for (let c = 0; c < components; c++) {
        const hv = seg[6 + 3 * c + 1]!;
        const [h, v] = [hv >> 4, hv & 15];
        if (h < 1 || h > 4 || v < 1 || v > 4) corrupt(`component ${c} has sampling factors ${h}×${v} (1..4 allowed)`);
        maxH = Math.max(maxH, h);
        maxV = Math.max(maxV, v);
      }
      frame = { format: 'jpeg', width, height, components, maxH, maxV };
    } else if (m === 0xda) {
      if (!frame) corrupt(`scan (SOS) at byte ${pos - len - 2} before the frame header (SOF)`);
      const ns = seg[0] ?? 0;
      if (ns < 1 || ns > 4 || ns > frame.components || seg.length !== 4 + 2 * ns) corrupt(`scan header (SOS) at byte ${pos - len - 2}: ${len} bytes for ${ns} components`);
      if (++scans > MAX_JPEG_SCANS) corrupt(`more than ${MAX_JPEG_SCANS} scans (real files have a few; this one would take the decoder minutes)`);
      // Entropy-coded data: 0xff is stuffed as ff 00, restart markers ff d0..d7 sit inside it; the
      // first other marker ends the scan.
      while (pos < b.length) {
        if (b[pos] === 0xff && pos + 1 < b.length) {
          const next = b[pos + 1]!;
          if (next !== 0x00 && next !== 0xff && !(next >= 0xd0 && next <= 0xd7)) break;
        }
        pos++;
      }
    }
  }
}

// ------------------------------------------------------------------------------ other formats

/** Width and height of a GIF (logical screen), WebP or BMP, for the browser's decoder. */
export function readOtherHeader(b: Uint8Array, format: 'gif' | 'webp' | 'bmp', name: string): ImageHeader {
  const corrupt: (what: string) => never = (what) => imageFail(name, `corrupt ${format.toUpperCase()}: ${what}`);
  if (format === 'gif') {
    if (b.length < 10) corrupt('truncated header');
    return { format, width: u16le(b, 6), height: u16le(b, 8) };
  }
  if (format === 'bmp') {
    if (b.length < 26) corrupt('truncated header');
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const headerSize = dv.getUint32(14, true);
    if (headerSize === 12) return { format, width: dv.getUint16(18, true), height: dv.getUint16(20, true) };
    return { format, width: Math.abs(dv.getInt32(18, true)), height: Math.abs(dv.getInt32(22, true)) };
  }
  // WebP: RIFF, size, WEBP, then the first chunk: VP8 (lossy), VP8L (lossless) or VP8X (extended).
  if (b.length < 30) corrupt('truncated header');
  const chunk = String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!);
  if (chunk === 'VP8 ') {
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) corrupt('VP8 frame without its start code');
    return { format, width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  }
  if (chunk === 'VP8L') {
    if (b[20] !== 0x2f) corrupt('VP8L chunk without its signature');
    const bits = b[21]! | (b[22]! << 8) | (b[23]! << 16) | (b[24]! << 24);
    return { format, width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X') {
    const w = (b[24]! | (b[25]! << 8) | (b[26]! << 16)) + 1;
    const h = (b[27]! | (b[28]! << 8) | (b[29]! << 16)) + 1;
    return { format, width: w, height: h };
  }
  return corrupt(`unknown first chunk '${chunk}'`);
}
