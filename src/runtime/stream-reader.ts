// Reads of one file served from a single sequential stream of it (a response body from byte 0), for
// servers without Range support and for filling the weight cache: the file is requested once and
// each byte passes once, whatever the number of reads. Reads are served in call order; the loader
// asks for increasing offsets (headers, then tensors sorted by offset), so only the bytes of the
// read in progress are held. A read behind the stream restarts it from byte 0 (counted in
// `restarts`; correct, but the loader never needs it).
import { abortReason, throwIfAborted } from './abort.js';

export interface StreamReaderOptions {
  /** The file's name or URL, for messages. */
  name: string;
  /** Opens a new stream of the whole file from byte 0 (a new request). */
  open: () => Promise<ReadableStream<Uint8Array>>;
  /** A stream already open at byte 0 (the body of the response that showed Range is ignored). */
  first?: ReadableStream<Uint8Array>;
  /** Every chunk as it passes, with its file offset (the cache writes them). */
  onChunk?: (chunk: Uint8Array, offset: number) => void;
  /** Called once when the stream ends, with the bytes it carried. */
  onEnd?: (bytes: number) => void;
  signal?: AbortSignal;
}

export interface StreamReader {
  /** Exactly `length` bytes from `offset`, or a rejection naming the file. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Reads to the end of the stream (the bytes pass through onChunk), then releases it. */
  drain(): Promise<void>;
  /** Stops the stream (its request is cancelled). */
  cancel(): Promise<void>;
  /** How many times the stream was opened again because a read went backwards. */
  readonly restarts: number;
}

export function streamReader(opts: StreamReaderOptions): StreamReader {
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let first = opts.first;
  let pos = 0; // file offset just past the last chunk taken from the stream
  let held: { offset: number; bytes: Uint8Array }[] = []; // chunks not yet wholly consumed, in order
  let ended = false;
  let restarts = 0;
  let queue: Promise<unknown> = Promise.resolve();

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  const onAbort = () => { void reader?.cancel(abortReason(opts.signal!)).catch(() => {}); };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  async function start(): Promise<void> {
    const stream = first ?? (await opts.open());
    first = undefined;
    reader = stream.getReader();
    pos = 0;
    held = [];
    ended = false;
  }

  /** Takes the next chunk into `held`; false at the end of the stream. */
  async function pull(): Promise<boolean> {
    if (ended) return false;
    throwIfAborted(opts.signal);
    const { value, done } = await reader!.read();
    throwIfAborted(opts.signal);
    if (done) {
      ended = true;
      opts.onEnd?.(pos);
      return false;
    }
    opts.onChunk?.(value, pos);
    held.push({ offset: pos, bytes: value });
    pos += value.byteLength;
    return true;
  }

  async function read(offset: number, length: number): Promise<Uint8Array> {
    throwIfAborted(opts.signal);
    const oldest = held[0]?.offset ?? pos;
    if (!reader || offset < oldest) {
      if (reader) {
        restarts++;
        await reader.cancel().catch(() => {});
      }
      await start();
    }
    const end = offset + length;
    while (pos < end && (await pull()));
    // Chunks wholly before this read are never needed again (reads move forward).
    held = held.filter((c) => c.offset + c.bytes.byteLength > offset);
    const out = new Uint8Array(length);
    let filled = 0;
    for (const c of held) {
      const from = Math.max(offset, c.offset);
      const to = Math.min(end, c.offset + c.bytes.byteLength);
      if (to <= from) continue;
      out.set(c.bytes.subarray(from - c.offset, to - c.offset), from - offset);
      filled += to - from;
    }
    if (filled !== length) throw new Error(`${opts.name}: got ${filled} of ${length} bytes at ${offset} (the stream ended at byte ${pos}; file truncated?)`);
    return out;
  }

  return {
    read: (offset, length) => serial(() => read(offset, length)),
    drain: () => serial(async () => {
      if (!reader) await start();
      held = [];
      while (await pull()) held = [];
      reader!.releaseLock();
      opts.signal?.removeEventListener('abort', onAbort);
    }),
    cancel: () => serial(async () => {
      opts.signal?.removeEventListener('abort', onAbort);
      held = [];
      if (first) await first.cancel().catch(() => {});
      first = undefined;
      if (reader && !ended) await reader.cancel().catch(() => {});
      ended = true;
    }),
    get restarts() { return restarts; },
  };
}
