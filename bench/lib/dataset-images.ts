// Generated dataset images (Node only) for the dataset bench and the embed-dataset tests: PNG
// (pngjs) and JPEG (jpeg-js) files of random-ish content at sizes that are not tile multiples,
// deterministic per seed, plus webdataset tar shards (tar-stream) with .json sidecars.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import tarStream from 'tar-stream';
import { rng } from '../../src/kernels/check-harness.js';

export type ImageKind = 'png' | 'jpeg';

/** RGBA pixels: smooth gradients plus noise (so resizes and JPEG both have something to do). */
export function imagePixels(w: number, h: number, seed: number): Uint8Array {
  const r = rng(seed);
  const [a, b, c] = [r() * 255, r() * 255, r() * 255];
  const px = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      px[i] = (a + (200 * x) / w + 40 * r()) & 255;
      px[i + 1] = (b + (200 * y) / h + 40 * r()) & 255;
      px[i + 2] = (c + (100 * (x + y)) / (w + h) + 40 * r()) & 255;
      px[i + 3] = 255;
    }
  }
  return px;
}

export function encodeImage(kind: ImageKind, w: number, h: number, seed: number): Uint8Array {
  const data = imagePixels(w, h, seed);
  if (kind === 'jpeg') return jpeg.encode({ data, width: w, height: h }, 90).data;
  const png = new PNG({ width: w, height: h });
  png.data = Buffer.from(data);
  return PNG.sync.write(png);
}

export interface GeneratedImage {
  /** Relative path (files) or key (tar samples). */
  name: string;
  kind: ImageKind;
  width: number;
  height: number;
  bytes: Uint8Array;
}

/** `count` images, alternating PNG/JPEG, sizes between 20 and 70 pixels (never square multiples of 14). */
export function generateImages(count: number, seed = 1, prefix = 'img'): GeneratedImage[] {
  return generateImagesOfSize(count, 20, 69, seed, prefix);
}

/** `count` images, alternating PNG/JPEG, each side drawn in [minSide, maxSide]. */
export function generateImagesOfSize(count: number, minSide: number, maxSide: number, seed = 1, prefix = 'img'): GeneratedImage[] {
  const r = rng(seed);
  return Array.from({ length: count }, (_, i) => {
    const kind: ImageKind = i % 2 ? 'jpeg' : 'png';
    const width = minSide + Math.floor(r() * (maxSide - minSide + 1));
    const height = minSide + Math.floor(r() * (maxSide - minSide + 1));
    return { name: `${prefix}${String(i).padStart(4, '0')}.${kind === 'png' ? 'png' : 'jpg'}`, kind, width, height, bytes: encodeImage(kind, width, height, seed * 1000 + i) };
  });
}

export function writeImages(dir: string, images: GeneratedImage[]): string[] {
  return images.map((img) => {
    const path = join(dir, img.name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, img.bytes);
    return path;
  });
}

/** A webdataset shard: for each sample key.jpg/png + key.json (+ extra members given per key). */
export async function writeTar(path: string, samples: { key: string; members: Record<string, Uint8Array | string> }[]): Promise<void> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((res, rej) => { pack.on('end', res); pack.on('error', rej); });
  for (const s of samples) {
    for (const [ext, body] of Object.entries(s.members)) {
      const buf = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
      await new Promise<void>((res, rej) => pack.entry({ name: `${s.key}.${ext}`, size: buf.length }, buf, (e) => (e ? rej(e) : res())));
    }
  }
  pack.finalize();
  await done;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, Buffer.concat(chunks));
}
