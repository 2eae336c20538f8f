// One image, bytes → pixel_values tiles on the CPU: decode (PNG: pngjs, as the library does; JPEG:
// sharp/libvips, whose pixels equal Pillow's — measured on 4:4:4 and 4:2:0 JPEGs, where jpeg-js is off
// by up to 64 levels on chroma edges — or jpeg-js when sharp cannot load; WebP: sharp only), Pillow's bicubic resize in integer arithmetic (resizeBicubicReference, the same bytes as
// Pillow and as the GPU kernel) and normalization through the same float32 table the GPU uses, so the
// tiles equal what `embed --image` feeds the encoder bit for bit. Done on the CPU (in worker threads)
// because a dataset's images come in countless sizes: on the GPU each new size would compile a new
// preprocessing plan.
import {
  decodeBytes, decodeJpeg, DEFAULT_MAX_IMAGE_PIXELS, normalizeTable, preprocessLayout, resizeBicubicReference, sniffFormat,
  type DecodedImage, type DecodeOptions, type PreprocessOptions,
} from '../../src/internal.js';


export interface Tiles {
  width: number;
  height: number;
  tiles: number;
  /** (tiles, 3, S, S) float32, the encoder's pixel_values. */
  pixels: Float32Array;
}

const tables = new Map<string, Float32Array>();

export type JpegDecoder = 'sharp' | 'jpeg-js';

type SharpFn = typeof import('sharp').default;
let sharpLoad: Promise<SharpFn> | undefined;

/** sharp, loaded once per thread (a native module: it may be missing on an unusual platform). */
export function loadSharp(): Promise<SharpFn> {
  sharpLoad ??= import('sharp').then((m) => {
    const fn = m.default;
    fn.concurrency(1); // one decode per worker thread; the pool is the parallelism
    return fn;
  });
  return sharpLoad;
}

/** The JPEG decoder to use here, and a line for the log saying why. */
export async function chooseJpegDecoder(): Promise<{ decoder: JpegDecoder; note: string }> {
  try {
    const sharp = await loadSharp();
    return { decoder: 'sharp', note: `JPEG and WebP: sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}; Pillow's pixels), PNG: pngjs` };
  } catch (e) {
    return { decoder: 'jpeg-js', note: `JPEG: jpeg-js (sharp did not load: ${(e as Error).message.split('\n')[0]}; 4:2:0 JPEGs then differ from Pillow by several levels; no WebP), PNG: pngjs` };
  }
}

/** JPEG or WebP → RGBA with libvips, as Pillow's convert('RGB'): no EXIF rotation, no ICC colour conversion. */
async function decodeWithSharp(bytes: Uint8Array, name: string, format: 'JPEG' | 'WebP', maxImagePixels: number): Promise<DecodedImage> {
  const sharp = await loadSharp();
  try {
    // limitInputPixels: libvips checks the header's size before decoding (the library's bomb guard).
    const { data, info } = await sharp(bytes, { ignoreIcc: true, limitInputPixels: Number.isFinite(maxImagePixels) ? maxImagePixels : false, autoOrient: false })
      .toColourspace('srgb').ensureAlpha(1).raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 4 || data.length !== info.width * info.height * 4) throw new Error(`decoded ${info.channels} channels, ${data.length} bytes for ${info.width}×${info.height}`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), name };
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0]!;
    if (/exceeds pixel limit/.test(msg)) {
      throw new Error(`image '${name}': more pixels than the limit of ${maxImagePixels} (--max-image-pixels; a decompression-bomb guard, as in Pillow): downscale the image or raise the limit`);
    }
    throw new Error(`image '${name}': corrupt or unsupported ${format} (${msg})`);
  }
}

/**
 * `opts.maxImagePixels` (default DEFAULT_MAX_IMAGE_PIXELS, Pillow's bomb limit) refuses larger images
 * from their header, before decoding, in every decoder.
 */
export async function imageToTiles(bytes: Uint8Array, name: string, opts: PreprocessOptions & DecodeOptions, jpeg: JpegDecoder = 'jpeg-js'): Promise<Tiles> {
  const limit = { maxImagePixels: opts.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS };
  const format = sniffFormat(bytes);
  const image = format === 'jpeg' ? await (jpeg === 'sharp' ? decodeWithSharp(bytes, name, 'JPEG', limit.maxImagePixels) : decodeJpeg(bytes, name, limit))
    : format === 'webp' && jpeg === 'sharp' ? await decodeWithSharp(bytes, name, 'WebP', limit.maxImagePixels)
    : await decodeBytes(bytes, name, limit);
  const layout = preprocessLayout(image.width, image.height, opts);
  const key = `${layout.rescale}:${layout.mean.join()}:${layout.std.join()}`;
  let lut = tables.get(key);
  if (!lut) tables.set(key, (lut = normalizeTable(layout.mean, layout.std, layout.rescale)));
  const S = layout.size;
  const plane = S * S;
  const pixels = new Float32Array(layout.tiles * 3 * plane);
  for (const step of layout.steps) {
    const [w, h] = step.resizeTo;
    const resized = resizeBicubicReference(image.data, image.width, image.height, w, h);
    for (let k = 0; k < step.count; k++) {
      const t = step.firstTile + k;
      const x0 = step.window.x0 + (k % step.cols) * S;
      const y0 = step.window.y0 + Math.floor(k / step.cols) * S;
      const base = t * 3 * plane;
      for (let y = 0; y < S; y++) {
        let src = ((y0 + y) * w + x0) * 4;
        let dst = base + y * S;
        for (let x = 0; x < S; x++, src += 4, dst++) {
          pixels[dst] = lut[resized[src]!]!;
          pixels[dst + plane] = lut[256 + resized[src + 1]!]!;
          pixels[dst + 2 * plane] = lut[512 + resized[src + 2]!]!;
        }
      }
    }
  }
  return { width: image.width, height: image.height, tiles: layout.tiles, pixels };
}
