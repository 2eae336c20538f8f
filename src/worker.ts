// The `internvit-webgpu/worker` entry: what a Web Worker file of the app imports. It has no side
// effects (the package is `sideEffects: false`, so a bare import could be dropped by a bundler); the
// worker file starts serving itself:
//
//   // model-worker.ts
//   import { serveModel } from 'internvit-webgpu/worker';
//   serveModel(self);
//
// and the page: createWorkerModel(new Worker(new URL('./model-worker.ts', import.meta.url), { type: 'module' }), source).
export { serveModel } from './worker/host.js';
export type { MessagePortLike, WorkerReply, WorkerRequest } from './worker/protocol.js';
