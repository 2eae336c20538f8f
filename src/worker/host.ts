// The worker side of createWorkerModel(): one InternViT per worker, loaded and called by messages.
// WebGPU, decoding and readback all happen here, so the page's main thread never waits on them.
import { InternViT, type LoadOptions } from '../api.js';
import type { LoadProgress } from '../runtime/loader.js';
import { buffersOf, type MessagePortLike, type WorkerReply, type WorkerRequest } from './protocol.js';

/** Answers createWorkerModel()'s messages on `scope` (the worker's global scope: `serveModel(self)`). */
export function serveModel(scope: MessagePortLike | typeof globalThis): void {
  const port = scope as MessagePortLike;
  let model: InternViT | null = null;
  const loads = new Map<number, AbortController>();
  const reply = (r: WorkerReply, transfer: Transferable[] = []) => port.postMessage(r, transfer);

  const need = (): InternViT => {
    if (!model) throw new Error('the worker has no model: call createWorkerModel() (which loads it) first');
    return model;
  };

  async function run(req: WorkerRequest): Promise<unknown> {
    const [a, b, c] = req.args as [unknown, unknown, unknown];
    if ((req.args ?? []).some((x) => (x as { output?: unknown } | null)?.output === 'gpu')) {
      throw new Error(`${req.op}: output 'gpu' cannot be used through a worker (GPU buffers cannot leave it); load the model on the page for GPU outputs`);
    }
    switch (req.op) {
      case 'load': {
        if (model) throw new Error('this worker already holds a model: use one worker per model');
        const controller = new AbortController();
        loads.set(req.id, controller);
        try {
          const opts: LoadOptions = { ...(b as LoadOptions), signal: controller.signal, onProgress: (progress: LoadProgress) => reply({ id: req.id, kind: 'progress', progress }) };
          model = await InternViT.load(a as string, opts);
          return { config: model.config, describe: model.describe(), precision: model.precision };
        } finally {
          loads.delete(req.id);
        }
      }
      case 'abort':
        loads.get(a as number)?.abort();
        return null;
      case 'embed': return plain(await need().embed(a as never, b as never));
      case 'embedPixels': return plain(await need().embedPixels(a as never, b as number[], c as never));
      case 'imageTokens': return plain(await need().imageTokens(a as never, b as never));
      case 'featureMap': return plain(await need().featureMap(a as never, b as never));
      case 'describe': return need().describe();
      case 'memory': return need().memory();
      case 'dispose':
        model?.dispose();
        model = null;
        return null;
    }
  }

  port.addEventListener('message', (e: MessageEvent) => {
    const req = e.data as WorkerRequest;
    if (typeof req?.id !== 'number' || typeof req.op !== 'string') return;
    run(req).then(
      (value) => reply({ id: req.id, kind: 'result', value }, buffersOf(value)),
      (err: unknown) => {
        const x = err instanceof Error || err instanceof DOMException ? err : new Error(String(err));
        reply({ id: req.id, kind: 'error', error: { name: x.name, message: x.message, stack: (x as Error).stack } });
      },
    );
  });
}

/** Results without what cannot leave the worker: GPU tensors (keepOnGpu) and release callbacks. */
function plain<T extends object>(result: T): T {
  const { gpu: _gpu, release: _release, ...rest } = result as T & { gpu?: unknown; release?: unknown };
  return rest as T;
}
