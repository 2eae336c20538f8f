// Browser images that WebGPU can copy straight into a texture (queue.copyExternalImageToTexture):
// ImageBitmap, VideoFrame, HTMLVideoElement, HTMLCanvasElement, OffscreenCanvas. They never come back
// to the CPU: the texture is copied into the preprocessing plan's packed-RGBA8 input buffer in the
// run's command buffer (copyTextureToBuffer, rows padded to 256 bytes), and the resize reads it with
// that row stride. The bytes are those a 2D canvas's getImageData gives for opaque pixels (sRGB,
// unpremultiplied, no flip), so the embedding equals the host path's for the same pixels.
import { imageFail } from './image-header.js';

export type ExternalImage = ImageBitmap | VideoFrame | HTMLVideoElement | HTMLCanvasElement | OffscreenCanvas;

const KINDS = ['ImageBitmap', 'VideoFrame', 'HTMLVideoElement', 'HTMLCanvasElement', 'OffscreenCanvas'] as const;

function kindOf(x: unknown): (typeof KINDS)[number] | null {
  if (typeof x !== 'object' || x === null) return null;
  for (const k of KINDS) {
    const C = (globalThis as Record<string, unknown>)[k];
    if (typeof C === 'function' && x instanceof (C as abstract new (...a: never[]) => unknown)) return k;
  }
  return null;
}

export function isExternalImage(x: unknown): x is ExternalImage {
  return kindOf(x) !== null;
}

/** The size the copy takes (display size for video), refusing sources without a frame. */
export function externalImageSize(source: ExternalImage, name?: string): { width: number; height: number; name: string } {
  const kind = kindOf(source)!;
  const label = name ?? kind;
  let width: number;
  let height: number;
  if (kind === 'VideoFrame') {
    const f = source as VideoFrame;
    if (f.format === null) imageFail(label, 'the VideoFrame is closed (or has no readable format)');
    width = f.displayWidth;
    height = f.displayHeight;
  } else if (kind === 'HTMLVideoElement') {
    const v = source as HTMLVideoElement;
    if (v.readyState < 2 /* HAVE_CURRENT_DATA */) imageFail(label, `the video has no frame to read yet (readyState ${v.readyState}); wait for 'loadeddata'`);
    width = v.videoWidth;
    height = v.videoHeight;
  } else {
    width = (source as OffscreenCanvas).width;
    height = (source as OffscreenCanvas).height;
  }
  if (!(width > 0 && height > 0)) imageFail(label, `image is empty (${width}×${height})`);
  return { width, height, name: label };
}

/** Row stride, in pixels, of a texture copy into a buffer: bytesPerRow must be a multiple of 256. */
export function paddedRowPixels(width: number): number {
  return Math.ceil(width / 64) * 64;
}
