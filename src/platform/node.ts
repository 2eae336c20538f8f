// The Node side of `#platform` (see platform.ts). Every Node-only import of the library is here or
// below it, and all of them are dynamic, so importing the package costs nothing until it is used.
import type { Platform } from './platform.js';

/** A default export (CommonJS packages) or the namespace itself. */
function unwrap<T>(mod: T & { default?: T }): T {
  return (mod.default && typeof mod.default === 'object' ? mod.default : mod) as T;
}

export const platform: Platform = {
  kind: 'node',
  nodeAdapter: async (options) => (await import('../runtime/device-node.js')).nodeAdapter(options),
  fs: () => import('node:fs/promises'),
  fileURLToPath: async (url) => (await import('node:url')).fileURLToPath(url),
  png: async () => unwrap(await import('pngjs')),
  jpeg: async () => unwrap(await import('jpeg-js')),
  tuningFileStore: async () => (await import('../runtime/tuner-node-store.js')).defaultFileStore(),
};
