// The decode pool: N worker threads, one job each at a time, fed from a queue. Results come back as
// promises that the caller consumes in submission order, holding at most a bounded number in flight
// (the prefetch window), so memory stays flat however large the dataset. With no worker file (running
// from TypeScript sources) or --workers 0, jobs run in this thread instead.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { decodeJob, type DecodeJob, type DecodeReply } from './decode-job.js';

export const WORKER_FILE = 'dataset-worker.js';

/** dist/dataset-worker.js next to the bundle this code was built into (entry or chunk), or null. */
export function findWorkerFile(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [here, dirname(here)]) {
    const f = join(dir, WORKER_FILE);
    if (existsSync(f)) return f;
  }
  return null;
}

interface Slot {
  worker: Worker;
  job: { job: DecodeJob; resolve: (r: DecodeReply) => void } | null;
}

export interface DecodePool {
  /** Worker threads (0: decoding in this thread). */
  readonly threads: number;
  decode(job: Omit<DecodeJob, 'id'>): Promise<DecodeReply>;
  close(): Promise<void>;
}

export function createDecodePool(threads: number, workerFile: string | null): DecodePool {
  if (threads === 0 || !workerFile) {
    let id = 0;
    return { threads: 0, decode: (job) => decodeJob({ ...job, id: id++ }, readFile), close: async () => undefined };
  }
  let nextId = 0;
  let closed = false;
  const queue: { job: DecodeJob; resolve: (r: DecodeReply) => void }[] = [];
  const slots: Slot[] = [];

  const spawn = (): Slot => {
    const slot: Slot = { worker: new Worker(workerFile), job: null };
    slot.worker.on('message', (reply: DecodeReply) => {
      const running = slot.job;
      slot.job = null;
      running?.resolve(reply);
      pump();
    });
    // A worker that dies (out of memory in a decoder, a native crash) fails its job only; a fresh
    // worker takes its place.
    const died = (why: string) => {
      const running = slot.job;
      slot.job = null;
      if (closed) return;
      running?.resolve({ id: running.job.id, ok: false, error: `decode worker died: ${why}`, ms: 0 });
      slots[slots.indexOf(slot)] = spawn();
      pump();
    };
    slot.worker.on('error', (e) => died(e.message));
    slot.worker.on('exit', (code) => { if (!closed && slots.includes(slot)) died(`exit code ${code}`); });
    return slot;
  };

  const pump = () => {
    for (const slot of slots) {
      if (slot.job || queue.length === 0) continue;
      slot.job = queue.shift()!;
      const { job } = slot.job;
      // Bytes (tar members) are transferred, not copied.
      const transfer = job.bytes && job.bytes.byteOffset === 0 && job.bytes.byteLength === job.bytes.buffer.byteLength ? [job.bytes.buffer as ArrayBuffer] : [];
      slot.worker.postMessage(job, transfer);
    }
  };

  for (let i = 0; i < threads; i++) slots.push(spawn());
  return {
    threads,
    decode(job) {
      return new Promise((resolve) => {
        queue.push({ job: { ...job, id: nextId++ }, resolve });
        pump();
      });
    },
    async close() {
      closed = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
