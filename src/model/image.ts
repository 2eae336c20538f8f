// Images in, RGBA bytes out. InternVL opens images with PIL and calls .convert('RGB'): alpha is
// dropped (not composited), palettes and grey levels expand to RGB, EXIF orientation is NOT applied.
// Node: PNG via pngjs, JPEG via jpeg-js, from a path, a file: URL or bytes (through `#platform`,
// src/platform/, so the browser build has no Node code). Browser: anything a 2D canvas can draw
// (HTMLImageElement, HTMLCanvasElement, OffscreenCanvas, ImageBitmap, VideoFrame, Blob, bytes, a URL)
// goes through an OffscreenCanvas; ImageData and raw pixel objects are taken as they are.
//
// Differences from PIL to know about:
// - JPEG: decoders differ in IDCT rounding and chroma upsampling; expect a level or two per channel
//   (more at sharp chroma edges of 4:2:0 images) between jpeg-js / the browser and libjpeg.
// - Browsers apply EXIF orientation and may colour-manage (ICC profiles) when decoding; PIL does
//   neither. A 2D canvas also stores premultiplied alpha, so colours under alpha 0 are lost.
// - 16-bit PNGs: we keep the high byte of each sample, as PIL does for 16-bit RGB(A); PIL turns
//   16-bit greyscale into mode "I" and clips it to 0..255 on convert('RGB'), which we do not copy.

import { platform } from '#platform';
import type { JpegModule, PngModule } from '../platform/platform.js';
import {
  checkImagePixels, checkPngData, imageFail, readJpegHeader, readOtherHeader, readPngHeader, resolveMaxImagePixels, type JpegHeader,
} from './image-header.js';

export { DEFAULT_MAX_IMAGE_PIXELS, ImageError } from './image-header.js';

/** Decoded pixels: RGBA bytes, row-major, 4 bytes per pixel (alpha is carried but never used). */
export interface DecodedImage {
  width: number;
  height: number;
  data: Uint8Array;
  /** Where the image came from, for error messages. */
  name: string;
}

/** Pixels you already have: RGBA (4 bytes/pixel) or RGB (3 bytes/pixel), row-major. */
export interface RawImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
  name?: string;
}

/** Limits applied to every image before it is decoded or drawn. */
export interface DecodeOptions {
  /**
   * Refuse images with more pixels than this, from the header alone (default
   * DEFAULT_MAX_IMAGE_PIXELS = 178,956,970, Pillow's decompression-bomb error threshold).
   */
  maxImagePixels?: number;
}

export type ImageInput =
  | string | URL | Uint8Array | ArrayBuffer | Blob | RawImage
  | ImageData | HTMLImageElement | HTMLCanvasElement | OffscreenCanvas | ImageBitmap | VideoFrame | HTMLVideoElement;

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

function has<T>(name: string): T | undefined {
  return (globalThis as Record<string, unknown>)[name] as T | undefined;
}
function isInstance(x: unknown, ctorName: string): boolean {
  const C = has<abstract new (...args: never[]) => unknown>(ctorName);
  return typeof C === 'function' && x instanceof C;
}

const fail: (name: string, problem: string) => never = imageFail;

/** Decodes or reads any supported input into RGBA bytes; images above opts.maxImagePixels are refused first. */
export async function decodeImage(input: ImageInput, name?: string, opts: DecodeOptions = {}): Promise<DecodedImage> {
  if (input === null || input === undefined) throw new Error('decodeImage: no image given');
  const max = resolveMaxImagePixels(opts.maxImagePixels);
  if (typeof input === 'string' || input instanceof URL) return decodeLocation(input, name, max);
  if (input instanceof ArrayBuffer) return decodeBytes(new Uint8Array(input), name ?? 'buffer', { maxImagePixels: max });
  if (input instanceof Uint8Array) return decodeBytes(input, name ?? 'buffer', { maxImagePixels: max });
  if (isRawImage(input)) return fromRaw(input, name ?? input.name ?? 'pixels', max);
  if (isInstance(input, 'Blob')) return decodeBytes(new Uint8Array(await (input as Blob).arrayBuffer()), name ?? (input as File).name ?? 'blob', { maxImagePixels: max });
  return drawToRgba(input as CanvasImageSource, name ?? (input as { constructor: { name: string } }).constructor.name, max);
}

function isRawImage(x: unknown): x is RawImage {
  const o = x as RawImage;
  return typeof o === 'object' && o !== null && !(x instanceof Uint8Array) && typeof o.width === 'number' &&
    typeof o.height === 'number' && (o.data instanceof Uint8Array || o.data instanceof Uint8ClampedArray);
}

function fromRaw(raw: RawImage, name: string, maxImagePixels: number): DecodedImage {
  const { width, height } = raw;
  checkDims(width, height, name);
  checkImagePixels(width, height, name, maxImagePixels);
  const n = width * height;
  const bytes = raw.data instanceof Uint8Array ? raw.data : new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
  if (bytes.length === n * 4) return { width, height, data: bytes, name };
  if (bytes.length === n * 3) {
    const rgba = new Uint8Array(n * 4);
    for (let i = 0; i < n; i++) {
      rgba[i * 4] = bytes[i * 3]!;
      rgba[i * 4 + 1] = bytes[i * 3 + 1]!;
      rgba[i * 4 + 2] = bytes[i * 3 + 2]!;
      rgba[i * 4 + 3] = 255;
    }
    return { width, height, data: rgba, name };
  }
  fail(name, `${bytes.length} bytes of pixels for ${width}×${height}: expected ${n * 4} (RGBA) or ${n * 3} (RGB)`);
}

function checkDims(width: number, height: number, name: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) fail(name, `invalid size ${width}×${height}`);
  if (width === 0 || height === 0) fail(name, `image is empty (${width}×${height})`);
}

async function decodeLocation(loc: string | URL, name: string | undefined, maxImagePixels: number): Promise<DecodedImage> {
  const text = loc.toString();
  if (/^(https?|blob|data):/i.test(text)) {
    const res = await fetch(text).catch((e: Error) => fail(name ?? text, `cannot fetch: ${e.message}`));
    if (!res.ok) fail(name ?? text, `HTTP ${res.status} ${res.statusText}`);
    return decodeBytes(new Uint8Array(await res.arrayBuffer()), name ?? text, { maxImagePixels });
  }
  if (!isNode) {
    // A relative URL in the browser.
    return decodeLocation(new URL(text, (globalThis as { location?: { href: string } }).location?.href), name ?? text, maxImagePixels);
  }
  const fs = await platform.fs();
  const path = loc instanceof URL || text.startsWith('file:') ? await platform.fileURLToPath(text) : text;
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (e) {
    fail(name ?? path, `cannot read file: ${(e as Error).message}`);
  }
  return decodeBytes(bytes, name ?? path, { maxImagePixels });
}

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp' | 'unknown';

export function sniffFormat(b: Uint8Array): ImageFormat {
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 4 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38) return 'gif';
  if (b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) return 'webp';
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  return 'unknown';
}

/**
 * Bytes of an encoded image (PNG or JPEG in Node; PNG, JPEG, GIF, WebP or BMP in a browser). The
 * header is read and checked against the pixel limit before any decoder sees the bytes.
 */
export async function decodeBytes(bytes: Uint8Array, name = 'buffer', opts: DecodeOptions = {}): Promise<DecodedImage> {
  if (bytes.length === 0) fail(name, 'file is empty (0 bytes)');
  const max = resolveMaxImagePixels(opts.maxImagePixels);
  const format = sniffFormat(bytes);
  if (!isNode) {
    if (format === 'unknown') fail(name, `unsupported format (first bytes ${hexHead(bytes)})`);
    if (format === 'png') await checkPngData(readPngHeader(bytes, name, max), name);
    else if (format === 'jpeg') readJpegHeader(bytes, name, max);
    else {
      const h = readOtherHeader(bytes, format, name);
      checkDims(h.width, h.height, name);
      checkImagePixels(h.width, h.height, name, max);
    }
    const C = has<typeof createImageBitmap>('createImageBitmap');
    if (!C) fail(name, 'this environment has no createImageBitmap to decode images');
    let bitmap: ImageBitmap;
    try {
      bitmap = await C(new Blob([bytes as BlobPart]), { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    } catch (e) {
      fail(name, `the browser could not decode this ${format.toUpperCase()}: ${(e as Error).message}`);
    }
    try {
      return drawToRgba(bitmap, name, max);
    } finally {
      bitmap.close();
    }
  }
  if (format === 'png') return decodePng(bytes, name, { maxImagePixels: max });
  if (format === 'jpeg') return decodeJpeg(bytes, name, { maxImagePixels: max });
  fail(name, `unsupported format${format === 'unknown' ? '' : ` ${format.toUpperCase()}`} (first bytes ${hexHead(bytes)}); ` +
    'Node decodes PNG and JPEG — convert the image, or pass decoded pixels {width, height, data}');
}

function hexHead(b: Uint8Array): string {
  return Array.from(b.subarray(0, 8), (v) => v.toString(16).padStart(2, '0')).join(' ');
}


/**
 * Drops tRNS chunks: for grey/RGB images pngjs would zero the colour of the transparent key pixels,
 * while PIL's convert('RGB') keeps it; palette alpha does not matter either since alpha is ignored.
 */
function withoutTrns(bytes: Uint8Array): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  let pos = 8;
  let dropped = false;
  while (pos + 12 <= bytes.length) {
    const len = dv.getUint32(pos);
    const end = pos + 12 + len;
    if (end > bytes.length) break;
    const type = String.fromCharCode(bytes[pos + 4]!, bytes[pos + 5]!, bytes[pos + 6]!, bytes[pos + 7]!);
    if (type === 'tRNS') dropped = true;
    else parts.push(bytes.subarray(pos, end));
    pos = end;
  }
  if (!dropped) return bytes;
  parts.push(bytes.subarray(pos));
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** PNG bytes → RGBA, after readPngHeader (size limit, chunk structure, CRCs) and checkPngData (inflated size). */
export async function decodePng(bytes: Uint8Array, name = 'buffer', opts: DecodeOptions = {}): Promise<DecodedImage> {
  const head = readPngHeader(bytes, name, opts.maxImagePixels);
  await checkPngData(head, name);
  const { PNG } = await platform.png();
  let png: ReturnType<PngModule['PNG']['sync']['read']>;
  try {
    // pngjs reads with Buffer methods: hand it a Buffer view (Node's global; this is the Node path).
    const NodeBuffer = has<{ from(b: ArrayBufferLike, offset: number, length: number): Uint8Array }>('Buffer')!;
    const clean = withoutTrns(bytes);
    png = PNG.sync.read(NodeBuffer.from(clean.buffer, clean.byteOffset, clean.byteLength), { skipRescale: head.depth === 16 });
  } catch (e) {
    fail(name, `corrupt PNG: ${(e as Error).message}`);
  }
  checkDims(png.width, png.height, name);
  const n = png.width * png.height;
  let data: Uint8Array;
  if (png.data instanceof Uint16Array || head.depth === 16) {
    // 16-bit samples: keep the high byte, as PIL's "RGB;16B" unpacker does.
    const src = png.data as Uint16Array;
    data = new Uint8Array(n * 4);
    for (let i = 0; i < n * 4; i++) data[i] = src[i]! >> 8;
  } else {
    data = new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength);
  }
  if (data.length !== n * 4) fail(name, `corrupt PNG: decoded ${data.length} bytes for ${png.width}×${png.height}`);
  return { width: png.width, height: png.height, data, name };
}

/** JPEG bytes → RGBA, after readJpegHeader (size limit, marker structure, EOI), with jpeg-js's memory caps. */
export async function decodeJpeg(bytes: Uint8Array, name = 'buffer', opts: DecodeOptions = {}): Promise<DecodedImage> {
  const head = readJpegHeader(bytes, name, opts.maxImagePixels);
  const jpeg = await platform.jpeg();
  let img: ReturnType<JpegModule['decode']>;
  try {
    img = jpeg.decode(bytes, {
      useTArray: true, formatAsRGBA: true, tolerantDecoding: false,
      maxResolutionInMP: (head.width * head.height) / 1e6 + 1e-6, maxMemoryUsageInMB: jpegMemoryMB(head),
    });
  } catch (e) {
    fail(name, `corrupt or unsupported JPEG: ${(e as Error).message}`);
  }
  checkDims(img.width, img.height, name);
  if (img.width !== head.width || img.height !== head.height) fail(name, `corrupt JPEG: decoded ${img.width}×${img.height}, the header says ${head.width}×${head.height}`);
  if (img.data.length !== img.width * img.height * 4) fail(name, `corrupt JPEG: decoded ${img.data.length} bytes for ${img.width}×${img.height}`);
  return { width: img.width, height: img.height, data: img.data, name };
}

/**
 * What jpeg-js may allocate for this frame: per component, 4 bytes per sample of coefficient blocks,
 * a byte per sample of output lines and one of interleaved output, over the MCU-padded size; then
 * the RGBA result. Anything
 * beyond it (e.g. tables or scans that never end) is refused by jpeg-js's own cap.
 */
function jpegMemoryMB(h: JpegHeader): number {
  const mcuW = 8 * h.maxH;
  const mcuH = 8 * h.maxV;
  const padded = Math.ceil(h.width / mcuW) * mcuW * Math.ceil(h.height / mcuH) * mcuH;
  return Math.ceil((padded * 6 * h.components + h.width * h.height * 4) / 2 ** 20) + 16;
}

/** Browser: draw to an OffscreenCanvas and read the RGBA bytes back (ImageData is taken directly). */
function drawToRgba(source: CanvasImageSource | ImageData, name: string, maxImagePixels: number): DecodedImage {
  if (isInstance(source, 'ImageData')) {
    const d = source as ImageData;
    return fromRaw({ width: d.width, height: d.height, data: d.data }, name, maxImagePixels);
  }
  let width: number;
  let height: number;
  if (isInstance(source, 'HTMLImageElement')) {
    const img = source as HTMLImageElement;
    if (!img.complete) fail(name, 'HTMLImageElement has not finished loading (await img.decode() first)');
    width = img.naturalWidth;
    height = img.naturalHeight;
  } else if (isInstance(source, 'VideoFrame')) {
    width = (source as VideoFrame).displayWidth;
    height = (source as VideoFrame).displayHeight;
  } else if (isInstance(source, 'HTMLVideoElement')) {
    width = (source as HTMLVideoElement).videoWidth;
    height = (source as HTMLVideoElement).videoHeight;
  } else if (['HTMLCanvasElement', 'OffscreenCanvas', 'ImageBitmap'].some((c) => isInstance(source, c))) {
    width = (source as OffscreenCanvas).width;
    height = (source as OffscreenCanvas).height;
  } else {
    fail(name, 'unsupported input: pass a path/URL, bytes, a Blob, ImageData, {width, height, data}, or an image/canvas/bitmap/video frame');
  }
  checkDims(width, height, name);
  checkImagePixels(width, height, name, maxImagePixels);
  const Canvas = has<typeof OffscreenCanvas>('OffscreenCanvas');
  if (!Canvas) fail(name, 'OffscreenCanvas is not available to read the pixels');
  const canvas = new Canvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D | null;
  if (!ctx) fail(name, 'could not get a 2D context');
  ctx.drawImage(source as CanvasImageSource, 0, 0, width, height);
  const pixels = ctx.getImageData(0, 0, width, height);
  return { width, height, data: new Uint8Array(pixels.data.buffer, pixels.data.byteOffset, pixels.data.byteLength), name };
}
