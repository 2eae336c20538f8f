// createWorkerModel(): the model in a Web Worker behind the same calls as InternViT (embed,
// embedPixels, imageTokens, featureMap), so loading, preprocessing, the GPU work and readback never
// block the page. Inputs and outputs cross as transferred ArrayBuffers (a pixels array given to
// embedPixels is transferred: it is empty in the page afterwards). DOM images and canvases, which
// cannot be posted, become ImageBitmaps first (createImageBitmap, on the page; a video element: its current frame).
import type { EmbedOptions, ImageOptions, ImageTokensResult, EmbedResult, LoadOptions, ModelMemory } from '../api.js';
import type { ModelConfig } from '../model/config.js';
import type { FeatureMapOptions, FeatureMapResult } from '../model/feature-map.js';
import type { ImageInput } from '../model/image.js';
import type { ForwardResult } from '../model/internvit.js';
import type { HostArray } from '../runtime/executor.js';
import type { LoadProgress } from '../runtime/loader.js';
import { abortReason } from '../runtime/abort.js';
import { buffersOf, type MessagePortLike, type WorkerOp, type WorkerReply } from './protocol.js';

/** What load() options can cross to a worker: no device, no fetch function, no CacheStorage object. */
export type WorkerLoadOptions = Omit<LoadOptions, 'gpu' | 'device' | 'fetch' | 'cache'> & { cache?: boolean };

export interface WorkerModel {
  readonly config: ModelConfig;
  readonly precision: 'f32' | 'f16';
  /** describe() of the model in the worker, taken at load. */
  readonly description: string;
  /** GPU objects cannot leave the worker: no keepOnGpu, no output 'gpu'. */
  embed(image: ImageInput, opts?: Omit<EmbedOptions, 'keepOnGpu' | 'output'>): Promise<Omit<EmbedResult, 'gpu' | 'buffers'>>;
  /** `pixels` is transferred to the worker (its buffer is detached here). */
  embedPixels(pixels: HostArray, shape: readonly number[], opts?: { hiddenStates?: EmbedOptions['hiddenStates'] }): Promise<Omit<ForwardResult, 'gpu'>>;
  imageTokens(image: ImageInput, opts?: ImageOptions): Promise<Omit<ImageTokensResult, 'gpu' | 'release'>>;
  featureMap(image: ImageInput, opts?: ImageOptions & Omit<FeatureMapOptions, 'output'>): Promise<Omit<FeatureMapResult, 'buffers'>>;
  memory(): Promise<ModelMemory>;
  /** Frees the model's GPU memory in the worker; `terminate: true` also ends the worker. */
  dispose(opts?: { terminate?: boolean }): Promise<void>;
}

type WorkerLike = MessagePortLike & { terminate?(): void };

/**
 * Loads `source` in `worker` (started from the package's worker entry) and returns a proxy of the
 * model. `options.signal` aborts the load in the worker; `onProgress` is called on this thread.
 */
export async function createWorkerModel(worker: WorkerLike, source: string, options: WorkerLoadOptions = {}): Promise<WorkerModel> {
  let nextId = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; onProgress?: (p: LoadProgress) => void }>();
  const onMessage = (e: MessageEvent) => {
    const r = e.data as WorkerReply;
    const p = pending.get(r?.id);
    if (!p) return;
    if (r.kind === 'progress') return p.onProgress?.(r.progress);
    pending.delete(r.id);
    if (r.kind === 'result') p.resolve(r.value);
    else p.reject(remoteError(r.error));
  };
  worker.addEventListener('message', onMessage);
  const onError = (e: Event) => {
    const why = new Error(`the model worker failed: ${(e as ErrorEvent).message ?? 'error event (did the worker script load?)'}`);
    for (const p of pending.values()) p.reject(why);
    pending.clear();
  };
  (worker as unknown as EventTarget).addEventListener?.('error', onError);

  const call = <T>(op: WorkerOp, args: unknown[], transfer: Transferable[] = [], onProgress?: (p: LoadProgress) => void): Promise<T> => {
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress });
      worker.postMessage({ id, op, args }, transfer);
    });
  };

  const { signal, onProgress, ...load } = options;
  if (signal?.aborted) throw abortReason(signal);
  const loadId = nextId;
  const abort = () => { void call('abort', [loadId]).catch(() => {}); };
  signal?.addEventListener('abort', abort, { once: true });
  let info: { config: ModelConfig; describe: string; precision: 'f32' | 'f16' };
  try {
    info = await call('load', [source, load], [], onProgress);
  } finally {
    signal?.removeEventListener('abort', abort);
  }

  const image = async (img: ImageInput): Promise<[unknown, Transferable[]]> => {
    const postable = await postableImage(img);
    return [postable, transferablesOfImage(postable)];
  };
  return {
    config: info.config,
    precision: info.precision,
    description: info.describe,
    async embed(img, opts = {}) {
      const [x, t] = await image(img);
      return call('embed', [x, opts], t);
    },
    embedPixels(pixels, shape, opts = {}) {
      return call('embedPixels', [pixels, [...shape], opts], buffersOf(pixels));
    },
    async imageTokens(img, opts = {}) {
      const [x, t] = await image(img);
      return call('imageTokens', [x, opts], t);
    },
    async featureMap(img, opts = {}) {
      const [x, t] = await image(img);
      return call('featureMap', [x, opts], t);
    },
    memory: () => call('memory', []),
    async dispose(opts = {}) {
      await call('dispose', []);
      worker.removeEventListener('message', onMessage);
      if (opts.terminate) worker.terminate?.();
    },
  };
}

/** The worker's error with its name (AbortError, DeviceLostError, LimitError, …) and message. */
function remoteError(e: { name: string; message: string; stack?: string }): Error {
  if (e.name === 'AbortError') return new DOMException(e.message, 'AbortError');
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

/** Image, canvas and video elements cannot be posted to a worker: they become ImageBitmaps here (a video: its current frame). */
async function postableImage(img: ImageInput): Promise<unknown> {
  const has = (name: string) => typeof (globalThis as Record<string, unknown>)[name] === 'function';
  if ((has('HTMLImageElement') && img instanceof HTMLImageElement) || (has('HTMLCanvasElement') && img instanceof HTMLCanvasElement) ||
    (has('HTMLVideoElement') && img instanceof HTMLVideoElement)) {
    return createImageBitmap(img);
  }
  return img;
}

/** Transferred with the message: ImageBitmaps and VideoFrames (the page's copy becomes unusable). */
function transferablesOfImage(img: unknown): Transferable[] {
  const has = (name: string) => typeof (globalThis as Record<string, unknown>)[name] === 'function';
  if ((has('ImageBitmap') && img instanceof ImageBitmap) || (has('VideoFrame') && img instanceof VideoFrame)) {
    return [img as Transferable];
  }
  return [];
}
