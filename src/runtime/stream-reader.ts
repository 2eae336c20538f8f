// Reads of one file served from a single sequential stream of it, for servers without Range support
// and for filling the weight cache: the file is requested once and each byte passes once, whatever
// the number of reads. Reads are served in call order; the loader asks for increasing offsets
// (headers, then tensors sorted by offset), so only the chunks of the read in progress are held.
//
// A stream that breaks (a dropped connection, a CDN closing a stream left idle while other shards
// upload) is opened again where it broke: `open(from)` asks for the rest (a Range request; a server
// without Range sends the file from 0 and the bytes before `from` are skipped). A read behind the
// stream opens it again at that read (counted in `restarts`; correct, but the loader never needs it).
import { abortReason, isAbortError, throwIfAborted } from './abort.js';

/** Consecutive breaks without a byte in between after which a read fails. */
export const STREAM_RETRIES = 3;

export interface StreamReaderOptions {
  /** The file's name or URL, for messages. */
  name: string;
  /** Opens the file from byte `from` (a new request); `offset` says where the body really starts (`from` or 0). */
  open: (from: number) => Promise<{ body: ReadableStream<Uint8Array>; offset: number }>;
  /** A stream already open at byte 0 (the body of the response that showed Range is ignored). */
  first?: ReadableStream<Uint8Array>;
  /** Every chunk as it passes, with its file offset (the cache writes them). */
  onChunk?: (chunk: Uint8Array, offset: number) => void;
  /** Called once when the stream ends, with the file offset of its end. */
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
  /** How many times the stream was opened again where it broke. */
  readonly resumes: number;
}

export function streamReader(opts: StreamReaderOptions): StreamReader {
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let first = opts.first;
  let pos = 0; // file offset of the next byte the stream gives
  let skipBelow = 0; // bytes below this offset were already taken: dropped when a reopened stream repeats them
  let held: { offset: number; bytes: Uint8Array }[] = []; // chunks not yet wholly consumed, in order
  let ended = false;
  let restarts = 0;
  let resumes = 0;
  let breaks = 0;
  let queue: Promise<unknown> = Promise.resolve();

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  const onAbort = () => { void reader?.cancel(abortReason(opts.signal!)).catch(() => {}); };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  /** (Re)opens the stream so that the next byte taken is `from`. */
  async function open(from: number): Promise<void> {
    const old = reader;
    reader = null;
    await old?.cancel().catch(() => {});
    let body: ReadableStream<Uint8Array>;
    if (first && from === 0) {
      body = first;
      pos = 0;
    } else {
      await first?.cancel().catch(() => {});
      const opened = await opts.open(from);
      body = opened.body;
      pos = opened.offset;
    }
    first = undefined;
    reader = body.getReader();
    skipBelow = from;
    ended = false;
  }

  /** Takes the next chunk into `held`; false at the end of the stream. */
  async function pull(): Promise<boolean> {
    for (;;) {
      if (ended) return false;
      throwIfAborted(opts.signal);
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader!.read();
      } catch (e) {
        if (opts.signal?.aborted) throw abortReason(opts.signal);
        if (isAbortError(e) || ++breaks > STREAM_RETRIES) {
          throw new Error(`${opts.name}: the download broke at byte ${Math.max(pos, skipBelow)} (${(e as Error).message})`);
        }
        resumes++;
        await open(Math.max(pos, skipBelow));
        continue;
      }
      throwIfAborted(opts.signal);
      if (r.done) {
        ended = true;
        opts.onEnd?.(pos);
        return false;
      }
      let value = r.value;
      if (pos + value.byteLength <= skipBelow) {
        pos += value.byteLength;
        continue;
      }
      if (pos < skipBelow) {
        value = value.subarray(skipBelow - pos);
        pos = skipBelow;
      }
      breaks = 0;
      opts.onChunk?.(value, pos);
      held.push({ offset: pos, bytes: value });
      pos += value.byteLength;
      return true;
    }
  }

  async function read(offset: number, length: number): Promise<Uint8Array> {
    throwIfAborted(opts.signal);
    const oldest = held[0]?.offset ?? pos;
    if (!reader) await open(0);
    else if (offset < oldest) {
      restarts++;
      held = [];
      await open(offset);
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
      if (!reader) await open(0);
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
    get resumes() { return resumes; },
  };
}
