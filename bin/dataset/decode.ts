// One image, bytes → pixel_values tiles on the CPU: decode (pngjs / jpeg-js, the library's exact
// decoders), Pillow's bicubic resize in integer arithmetic (resizeBicubicReference, the same bytes as
// Pillow and as the GPU kernel) and normalization through the same float32 table the GPU uses, so the
// tiles equal what `embed --image` feeds the encoder bit for bit. Done on the CPU (in worker threads)
// because a dataset's images come in countless sizes: on the GPU each new size would compile a new
// preprocessing plan.
import {
  decodeBytes, normalizeTable, preprocessLayout, resizeBicubicReference, sniffFormat, type PreprocessOptions,
} from '../../src/index.js';

/** PIL's decompression-bomb limit (Image.MAX_IMAGE_PIXELS · 2): larger images are refused, not decoded. */
export const MAX_IMAGE_PIXELS = 178_956_970;

export interface Tiles {
  width: number;
  height: number;
  tiles: number;
  /** (tiles, 3, S, S) float32, the encoder's pixel_values. */
  pixels: Float32Array;
}

/** Width and height from a PNG's IHDR, or null for other formats (jpeg-js has its own 100 MP limit). */
function pngSize(b: Uint8Array): [number, number] | null {
  if (sniffFormat(b) !== 'png' || b.length < 24 || String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!) !== 'IHDR') return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return [dv.getUint32(16), dv.getUint32(20)];
}

const tables = new Map<string, Float32Array>();

export async function imageToTiles(bytes: Uint8Array, name: string, opts: PreprocessOptions): Promise<Tiles> {
  const dims = pngSize(bytes);
  if (dims && dims[0] * dims[1] > MAX_IMAGE_PIXELS) {
    throw new Error(`image '${name}': ${dims[0]}×${dims[1]} pixels is beyond the ${MAX_IMAGE_PIXELS} this command decodes (decompression bomb guard)`);
  }
  const image = await decodeBytes(bytes, name);
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
