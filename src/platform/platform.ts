// What the core needs from its environment that only Node has: Dawn's adapter, local files and the
// pure-JS image decoders. The core imports `#platform` (package.json "imports"), which resolves to
// ./node.ts under the `node` condition and to ./browser.ts otherwise, so browser builds contain no
// Node code at all (no `node:` or `webgpu` import, static or dynamic). Both implement this interface.
import type { GetGpuOptions } from '../runtime/device.js';
import type { TuningStore } from '../runtime/tuner-cache.js';

export interface FoundAdapter {
  adapter: GPUAdapter;
  /** Keeps Dawn's GPU object alive while the device lives. */
  keepAlive?: unknown;
}

export interface PngModule {
  PNG: { sync: { read(buffer: Uint8Array, options?: { skipRescale?: boolean }): { width: number; height: number; data: Uint8Array | Uint16Array; depth?: number } } };
}

export interface JpegModule {
  decode(data: Uint8Array, opts: {
    useTArray: true; formatAsRGBA: true; tolerantDecoding?: boolean; maxResolutionInMP?: number; maxMemoryUsageInMB?: number;
  }): { width: number; height: number; data: Uint8Array };
}

export interface Platform {
  readonly kind: 'node' | 'browser';
  /** Dawn's adapter (Node); the browser build throws, since navigator.gpu is used there. */
  nodeAdapter(options: GetGpuOptions): Promise<FoundAdapter>;
  /** node:fs/promises, for local checkpoints and image files. */
  fs(): Promise<typeof import('node:fs/promises')>;
  /** A file: URL → a path. */
  fileURLToPath(url: string | URL): Promise<string>;
  /** The decoders used in Node (browsers decode with createImageBitmap). */
  png(): Promise<PngModule>;
  jpeg(): Promise<JpegModule>;
  /** The autotuner's cache file under the user cache dir (Node); null in browsers (localStorage there). */
  tuningFileStore(): Promise<TuningStore | null>;
}
