// Web Worker entry: `new Worker(new URL('internvit-webgpu/worker', import.meta.url), { type: 'module' })`
// (or this file's URL in a dev setup), then createWorkerModel(worker, source, options) in the page.
import { serveModel } from './worker/host.js';

serveModel(self as unknown as import('./worker/protocol.js').MessagePortLike);
