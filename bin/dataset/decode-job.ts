// A decode job and its reply: the message format between the pool and its workers, and the work
// itself (also run in the main thread when there are no workers).
import type { DecodeOptions, PreprocessOptions } from '../../src/internal.js';
import { imageToTiles, type JpegDecoder } from './decode.js';

/** Files larger than this are refused before they are read (tar members are checked by the reader). */
export const MAX_IMAGE_BYTES = 256 * 1024 * 1024;

export interface DecodeJob {
  id: number;
  /** A file to read, or the bytes themselves (a tar member). */
  path?: string;
  bytes?: Uint8Array;
  name: string;
  opts: PreprocessOptions & DecodeOptions;
  jpeg: JpegDecoder;
}

export type DecodeReply =
  | { id: number; ok: true; width: number; height: number; tiles: number; pixels: Float32Array; ms: number }
  | { id: number; ok: false; error: string; ms: number };

type ReadFile = (path: string) => Promise<Uint8Array>;

export async function decodeJob(job: DecodeJob, read: ReadFile): Promise<DecodeReply> {
  const t = performance.now();
  try {
    let bytes = job.bytes;
    if (!bytes) {
      const { stat } = await import('node:fs/promises');
      const size = (await stat(job.path!)).size;
      if (size > MAX_IMAGE_BYTES) throw new Error(`image '${job.name}': ${size} bytes is beyond the ${MAX_IMAGE_BYTES} this command reads`);
      bytes = await read(job.path!);
    }
    const tiles = await imageToTiles(bytes, job.name, job.opts, job.jpeg);
    return { id: job.id, ok: true, ...tiles, ms: performance.now() - t };
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    return { id: job.id, ok: false, error: message.replace(/\s*\n\s*/g, '; '), ms: performance.now() - t };
  }
}
