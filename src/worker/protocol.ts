// Messages between createWorkerModel() (the page) and serveModel() (the worker). Requests carry an
// id; the worker answers each with one result or error, and sends progress for loads in between.
// Array buffers of inputs and outputs are transferred, not copied.
import type { LoadProgress } from '../runtime/loader.js';

export type WorkerOp = 'load' | 'embed' | 'embedPixels' | 'imageTokens' | 'featureMap' | 'describe' | 'memory' | 'dispose' | 'abort';

export interface WorkerRequest { id: number; op: WorkerOp; args: unknown[] }

export type WorkerReply =
  | { id: number; kind: 'result'; value: unknown }
  | { id: number; kind: 'error'; error: { name: string; message: string; stack?: string } }
  | { id: number; kind: 'progress'; progress: LoadProgress };

/** The part of a worker (or the worker's global scope) the protocol uses. */
export interface MessagePortLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
}

/** Every distinct ArrayBuffer under `value` (typed arrays, nested objects and arrays), to transfer. */
export function buffersOf(value: unknown, out = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (value instanceof ArrayBuffer) out.add(value);
  else if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) out.add(value.buffer);
  } else if (Array.isArray(value)) for (const v of value) buffersOf(v, out);
  else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) buffersOf(v, out);
  }
  return [...out];
}
