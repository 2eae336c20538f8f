// Node-only helpers for the checkpoint tests: temp folders, a local HTTP server (Range, HEAD, a
// hub-style layout with redirects), a store wrapper that records every byte range read, and tiny
// InternViT checkpoints written with writeSafetensors.
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { SafetensorsDType } from '../../src/runtime/dtype.js';
import type { CheckpointStore } from '../../src/runtime/loader.js';
import type { ByteSource } from '../../src/runtime/safetensors.js';
import { writeSafetensors, type WriteTensor } from '../../src/runtime/safetensors.js';
import { rng } from '../../src/kernels/check-harness.js';

export async function makeTempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'internvit-ckpt-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function writeFiles(dir: string, files: Record<string, Uint8Array | string>): Promise<void> {
  for (const [name, data] of Object.entries(files)) {
    const path = join(dir, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, data);
  }
}

export interface Request { method: string; path: string; range: string | null }

export interface TestServer {
  url: string;
  requests: Request[];
  /** Body bytes sent for .safetensors files (weights), all requests together. */
  weightBytesSent: () => number;
  close(): Promise<void>;
}

export interface ServeOptions {
  /** Honour Range headers (default true); false behaves like python -m http.server. */
  range?: boolean;
  /** Serve `dir` as the hub repository `id`: /{id}/resolve/main/{file}, weights via a 302 like the hub. */
  hubId?: string;
  /** A whole-file GET of a .safetensors file sends this many bytes, then stalls until the client gives up (20 s at most). */
  stallAfterBytes?: number;
  /** Refuse HEAD with 405 (some servers and presigned URLs do). */
  noHead?: boolean;
  /** The first GET of each .safetensors file that starts at byte 0 is cut (connection dropped) after this many bytes. */
  cutOnceAfterBytes?: number;
  /** Send an ETag: the file's size and mtime (true, like most static servers), its sha256, or a wrong sha256. */
  etag?: boolean | 'sha256' | 'wrong-sha256';
}

export interface FolderHandler {
  /** Answers one request (Node http, or a Vite dev server middleware with the prefix stripped). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  requests: Request[];
  /** Body bytes sent for .safetensors files (weights), all requests together. */
  weightBytesSent: () => number;
}

/** The request handler behind serveFolder: serves `dir`, logs requests, counts weight bytes sent. */
export function folderHandler(dir: string, opts: ServeOptions = {}): FolderHandler {
  const requests: Request[] = [];
  const cut = new Set<string>();
  let weightBytes = 0;
  return {
    requests,
    weightBytesSent: () => weightBytes,
    handle(req, res) {
      if (/\.safetensors$/.test(req.url ?? '')) {
        const write = res.write.bind(res);
        const end = res.end.bind(res);
        const count = (chunk: unknown) => { if (chunk && typeof chunk !== 'function') weightBytes += (chunk as Uint8Array).byteLength ?? 0; };
        res.write = ((chunk: Uint8Array, ...rest: never[]) => { count(chunk); return write(chunk, ...rest); }) as typeof res.write;
        res.end = ((chunk?: Uint8Array, ...rest: never[]) => { count(chunk); return end(chunk as never, ...rest); }) as typeof res.end;
      }
      handle(dir, opts, req, res, requests, cut).catch((e) => {
        res.statusCode = 500;
        res.end(String(e));
      });
    },
  };
}

// Browsers run module scripts only with a JavaScript MIME type (the packed-app test serves a web app).
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.png': 'image/png', '.wasm': 'application/wasm',
};

/** Serves a folder on 127.0.0.1 at a random port. */
export async function serveFolder(dir: string, opts: ServeOptions = {}): Promise<TestServer> {
  const h = folderHandler(dir, opts);
  const server = createServer((req, res) => h.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: h.requests,
    weightBytesSent: h.weightBytesSent,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** `cut`: files whose first whole-body GET this handler already cut (cutOnceAfterBytes). */
async function handle(dir: string, opts: ServeOptions, req: IncomingMessage, res: ServerResponse, log: Request[], cut: Set<string>): Promise<void> {
  const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  log.push({ method: req.method ?? 'GET', path, range: req.headers.range ?? null });
  if (opts.noHead && req.method === 'HEAD') {
    res.statusCode = 405;
    res.end();
    return;
  }
  let file: string | null = path.slice(1);
  if (opts.hubId) {
    const resolvePrefix = `/${opts.hubId}/resolve/main/`;
    if (path.startsWith(resolvePrefix)) {
      const name = path.slice(resolvePrefix.length);
      if (name.endsWith('.safetensors')) {
        // Like the hub: large files redirect to a CDN URL.
        res.statusCode = 302;
        res.setHeader('Location', `/cdn/${name}`);
        res.end();
        return;
      }
      file = name;
    } else if (path.startsWith('/cdn/')) {
      file = path.slice('/cdn/'.length);
    } else {
      file = null;
    }
  }
  const full = file === null || file.includes('..') ? null : join(dir, file);
  const st = full ? await stat(full).catch(() => null) : null;
  if (!full || !st?.isFile()) {
    res.statusCode = 404;
    res.end('not found');
    return;
  }
  const data = await readFile(full);
  res.setHeader('Content-Type', CONTENT_TYPES[extname(full)] ?? 'application/octet-stream');
  if (opts.etag === true) res.setHeader('ETag', `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`);
  if (opts.etag === 'sha256' || opts.etag === 'wrong-sha256') {
    const hex = createHash('sha256').update(data).digest('hex');
    res.setHeader('ETag', `"${opts.etag === 'sha256' ? hex : hex.replace(/^./, (c) => (c === '0' ? '1' : '0'))}"`);
  }
  const m = req.headers.range?.match(/^bytes=(\d+)-(\d*)$/);
  if (opts.range !== false) res.setHeader('Accept-Ranges', 'bytes');
  if (m && opts.range !== false) {
    const start = Number(m[1]);
    const end = Math.min(m[2] ? Number(m[2]) : Infinity, data.byteLength - 1);
    if (start >= data.byteLength) {
      res.statusCode = 416;
      res.setHeader('Content-Range', `bytes */${data.byteLength}`);
      res.end();
      return;
    }
    res.statusCode = 206;
    res.setHeader('Content-Range', `bytes ${start}-${end}/${data.byteLength}`);
    res.setHeader('Content-Length', String(end - start + 1));
    res.end(req.method === 'HEAD' ? undefined : data.subarray(start, end + 1));
    return;
  }
  res.statusCode = 200;
  res.setHeader('Content-Length', String(data.byteLength));
  if (opts.cutOnceAfterBytes !== undefined && req.method !== 'HEAD' && full.endsWith('.safetensors') && !cut.has(full)) {
    cut.add(full);
    res.write(data.subarray(0, opts.cutOnceAfterBytes), () => res.destroy());
    return;
  }
  if (opts.stallAfterBytes !== undefined && req.method !== 'HEAD' && full.endsWith('.safetensors')) {
    res.write(data.subarray(0, opts.stallAfterBytes)); // and stall: the client must abort (cut after 20 s)
    setTimeout(() => res.destroy(), 20_000).unref();
    return;
  }
  res.end(req.method === 'HEAD' ? undefined : data);
}

export interface ReadRecord { file: string; offset: number; length: number }

/** Wraps a store so every read (file, offset, length) is recorded. */
export function countingStore(inner: CheckpointStore): CheckpointStore & { reads: ReadRecord[]; opened: Set<string> } {
  const reads: ReadRecord[] = [];
  const opened = new Set<string>();
  const wrapped = new Map<string, ByteSource>();
  return {
    location: inner.location,
    reads,
    opened,
    open(file) {
      let s = wrapped.get(file);
      if (!s) {
        const src = inner.open(file);
        s = {
          name: src.name,
          size: () => { opened.add(file); return src.size(); },
          read: (offset, length) => {
            opened.add(file);
            reads.push({ file, offset, length });
            return src.read(offset, length);
          },
          close: () => src.close?.() ?? Promise.resolve(),
        };
        wrapped.set(file, s);
      }
      return s;
    },
    readText: (file) => inner.readText(file),
    close: () => inner.close?.() ?? Promise.resolve(),
  };
}

/** Seeded values in [-1, 1) (the checks' mulberry32 rng), so tests are reproducible. */
export function seeded(seed: number): () => number {
  const r = rng(seed);
  return () => r() * 2 - 1;
}

/** Random values of a shape for a dtype: F16/BF16 as raw bits (so the exact f32 value is known). */
export function randomTensor(shape: number[], dtype: SafetensorsDType, rand: () => number): WriteTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (dtype === 'BF16' || dtype === 'F16') {
    const bits = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      // Random sign, exponent (values about 2^-7..2) and mantissa: finite normal numbers.
      const sign = rand() < 0 ? 0x8000 : 0;
      const e = 120 + Math.floor((rand() + 1) * 4); // 120..127
      const u = Math.floor((rand() + 1) * 512); // 0..1023
      bits[i] = dtype === 'BF16' ? sign | (e << 7) | (u & 0x7f) : sign | ((e - 112) << 10) | u;
    }
    return { dtype, shape, data: bits };
  }
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rand();
  return { dtype, shape, data };
}

/** A tiny standalone config.json (layer_norm, qkv bias: the 300M family's kind). */
export function tinyConfigJson(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['InternVisionModel'],
    model_type: 'intern_vit_6b',
    hidden_size: 8,
    num_attention_heads: 2,
    intermediate_size: 16,
    num_hidden_layers: 2,
    image_size: 28,
    patch_size: 14,
    num_channels: 3,
    norm_type: 'layer_norm',
    qk_normalization: false,
    qkv_bias: true,
    layer_norm_eps: 1e-6,
    hidden_act: 'gelu',
    ...over,
  };
}

/** A tiny InternVL chat config.json around tinyConfigJson(). */
export function tinyChatConfigJson(vision: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['InternVLChatModel'],
    model_type: 'internvl_chat',
    downsample_ratio: 0.5,
    ps_version: 'v2',
    select_layer: -1,
    force_image_size: 28,
    template: 'internvl2_5',
    vision_config: tinyConfigJson(vision),
    llm_config: { architectures: ['Qwen2ForCausalLM'], hidden_size: 12, model_type: 'qwen2' },
  };
}

export function safetensorsFile(tensors: Record<string, WriteTensor>): Uint8Array {
  return writeSafetensors(tensors);
}
