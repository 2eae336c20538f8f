// Servers without Range support are read once, sequentially (not once per read from byte 0), and
// AbortSignal stops URL loads promptly with an AbortError. Node, a local HTTP server, no GPU.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint, urlSource } from '../../src/runtime/loader.js';
import { STREAM_RETRIES, streamReader } from '../../src/runtime/stream-reader.js';
import { makeTempDir, randomTensor, seeded, serveFolder, writeFiles, type TestServer } from './checkpoint-helpers.js';
import { writeSafetensors, type WriteTensor } from '../../src/runtime/safetensors.js';

const TENSORS = 40;
const rand = seeded(11);
const tensors: Record<string, WriteTensor> = {};
for (let i = 0; i < TENSORS; i++) tensors[`t.${String(i).padStart(2, '0')}`] = randomTensor([1024 + i], i % 2 ? 'BF16' : 'F32', rand);
const file = writeSafetensors(tensors);

let tmp: { dir: string; cleanup: () => Promise<void> };
let noRange: TestServer;
let stalling: TestServer;

beforeAll(async () => {
  tmp = await makeTempDir();
  await writeFiles(join(tmp.dir, 'm'), { 'config.json': '{}', 'model.safetensors': file });
  noRange = await serveFolder(tmp.dir, { range: false });
  stalling = await serveFolder(tmp.dir, { range: false, stallAfterBytes: 64 * 1024 });
});
afterAll(async () => {
  await noRange.close();
  await stalling.close();
  await tmp.cleanup();
});

const weightGets = (s: TestServer) => s.requests.filter((r) => r.method === 'GET' && r.path.endsWith('.safetensors'));

describe('a server that ignores Range', () => {
  it(`is read once for ${TENSORS} tensor reads: one GET of the file, bytes sent = the file's size`, async () => {
    noRange.requests.length = 0;
    const before = noRange.weightBytesSent();
    const ckpt = await openCheckpoint(`${noRange.url}/m/`);
    try {
      // In offset order, as uploadWeights reads; each value equal to the file's.
      const names = [...ckpt.tensors.values()].sort((a, b) => a.offset - b.offset).map((t) => t.name);
      expect(names.length).toBe(TENSORS);
      for (const name of names) {
        const t = ckpt.info(name);
        expect(await ckpt.read(name)).toEqual(file.subarray(t.offset, t.offset + t.byteLength));
      }
    } finally {
      await ckpt.close();
    }
    expect(weightGets(noRange).length).toBe(1);
    // The stream stops once the last tensor is read: at most the whole file, never a multiple of it.
    expect(noRange.weightBytesSent() - before).toBeLessThanOrEqual(file.byteLength);
  });

  it('HEAD refused too: the 1-byte probe gets the whole file, and that one response serves every read', async () => {
    const s = await serveFolder(tmp.dir, { range: false, noHead: true });
    try {
      const ckpt = await openCheckpoint(`${s.url}/m/`);
      try {
        for (const t of [...ckpt.tensors.values()].sort((a, b) => a.offset - b.offset)) {
          expect(await ckpt.read(t.name)).toEqual(file.subarray(t.offset, t.offset + t.byteLength));
        }
      } finally {
        await ckpt.close();
      }
      expect(weightGets(s).map((r) => r.range)).toEqual(['bytes=0-0']);
    } finally {
      await s.close();
    }
  });

  it('a read behind the stream opens it again and is still exact', async () => {
    noRange.requests.length = 0;
    const src = urlSource(`${noRange.url}/m/model.safetensors`);
    try {
      expect(await src.read(5000, 100)).toEqual(file.subarray(5000, 5100));
      expect(src.mode).toBe('stream');
      expect(await src.read(6000, 10)).toEqual(file.subarray(6000, 6010));
      expect(await src.read(file.byteLength - 8, 8)).toEqual(file.subarray(file.byteLength - 8));
      expect(await src.read(10, 10)).toEqual(file.subarray(10, 20)); // behind the stream's chunks
    } finally {
      await src.close();
    }
    expect(weightGets(noRange).length).toBe(2);
  });

  it('a stream that ends early is a "file truncated" error naming the file', async () => {
    const chunks = [file.subarray(0, 1000)];
    const reader = streamReader({
      name: 'x.safetensors',
      open: async () => ({ body: new ReadableStream({ pull(c) { const next = chunks.shift(); if (next) c.enqueue(next); else c.close(); } }), offset: 0 }),
    });
    await expect(reader.read(900, 200)).rejects.toThrow(/x\.safetensors: got 100 of 200 bytes at 900 \(the stream ended at byte 1000; file truncated\?\)/);
  });
});

describe('a stream that breaks', () => {
  for (const range of [true, false]) {
    it(`is opened again where it broke (${range ? 'Range: bytes=N-' : 'no Range: from 0, the start skipped'}); every byte exact`, async () => {
      const s = await serveFolder(tmp.dir, { range, cutOnceAfterBytes: 50_000 });
      try {
        const src = urlSource(`${s.url}/m/model.safetensors`, {});
        const got = new Uint8Array(file.byteLength);
        const reader = streamReader({ name: src.name, open: src.openFrom });
        for (let at = 0; at < file.byteLength; at += 8192) {
          const n = Math.min(8192, file.byteLength - at);
          got.set(await reader.read(at, n), at);
        }
        expect(got).toEqual(file);
        expect(reader.resumes).toBe(1);
        expect(weightGets(s).map((r) => r.range)).toEqual(range ? [null, 'bytes=50000-'] : [null, 'bytes=50000-']);
      } finally {
        await s.close();
      }
    });
  }

  it(`fails after ${STREAM_RETRIES} breaks without progress, naming the file and the byte`, async () => {
    let opens = 0;
    const reader = streamReader({
      name: 'flaky.safetensors',
      open: async () => {
        opens++;
        return { body: new ReadableStream({ pull(c) { c.error(new TypeError('network error')); } }), offset: 0 };
      },
    });
    await expect(reader.read(0, 10)).rejects.toThrow(/^flaky\.safetensors: the download broke at byte 0 \(network error\)$/);
    expect(opens).toBe(STREAM_RETRIES + 1);
  });
});

describe('AbortSignal', () => {
  it('an abort while the server stalls mid-body rejects within a second with an AbortError', async () => {
    const controller = new AbortController();
    const ckpt = await openCheckpoint(`${stalling.url}/m/`, { signal: controller.signal });
    try {
      const last = [...ckpt.tensors.values()].sort((a, b) => b.offset - a.offset)[0]!;
      const pending = ckpt.read(last.name); // past the 64 KiB the server sends: waits
      const t0 = Date.now();
      setTimeout(() => controller.abort(), 100);
      const e = await pending.then(() => null, (err: unknown) => err);
      expect(e).toBeInstanceOf(DOMException);
      expect((e as DOMException).name).toBe('AbortError');
      expect(Date.now() - t0).toBeLessThan(1000);
    } finally {
      await ckpt.close();
    }
  });

  it('an already aborted signal: nothing is requested', async () => {
    noRange.requests.length = 0;
    const controller = new AbortController();
    controller.abort(new Error('user left the page'));
    const e = await openCheckpoint(`${noRange.url}/m/`, { signal: controller.signal }).then(() => null, (err: unknown) => err);
    expect((e as Error).name).toBe('AbortError');
    expect((e as Error).message).toMatch(/aborted: user left the page/);
    expect(noRange.requests).toEqual([]);
  });
});
