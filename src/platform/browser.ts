// The browser side of `#platform` (see platform.ts): nothing here touches Node. Reaching one of
// these means the browser build runs where Node code was needed, so each says which build to use.
import type { Platform } from './platform.js';

const nodeOnly = (what: string) => (): Promise<never> =>
  Promise.reject(new Error(
    `${what} needs Node, and this is internvit-webgpu's browser build. In a browser use a URL, a hub id ` +
      'or memoryStore for checkpoints and Blob/ImageBitmap/bytes for images; in Node import the package ' +
      "normally (Node's resolver picks the 'node' build).",
  ));

export const platform: Platform = {
  kind: 'browser',
  nodeAdapter: nodeOnly("Dawn's WebGPU adapter (the 'webgpu' package)"),
  fs: nodeOnly('reading local files'),
  fileURLToPath: nodeOnly('a file: URL'),
  png: nodeOnly('decoding PNG with pngjs'),
  jpeg: nodeOnly('decoding JPEG with jpeg-js'),
  tuningFileStore: () => Promise.resolve(null),
};
