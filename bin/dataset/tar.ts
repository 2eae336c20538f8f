// webdataset shards: a tar whose consecutive members sharing a key (the member path up to the first
// dot of its file name) form one sample: 000123.jpg + 000123.json + 000123.txt. The image member
// (jpg, jpeg, png, webp, …) is the input; the .json sidecar's fields and the .txt caption pass through
// to the metadata. Streamed: one sample in memory at a time; oversized members are refused unread.
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import { MAX_IMAGE_BYTES } from './decode-job.js';

export interface TarSample {
  key: string;
  /** The image member's bytes, or why there is none usable. */
  image: { bytes: Uint8Array; member: string } | { error: string };
  json?: Record<string, unknown>;
  caption?: string;
}

const IMAGE_EXT = ['jpg', 'jpeg', 'png', 'webp', 'jfif', 'gif', 'bmp', 'tif', 'tiff'];
const MAX_SIDECAR_BYTES = 16 * 1024 * 1024;

function splitName(name: string): { key: string; ext: string } {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  return dot < 0 ? { key: name, ext: '' } : { key: name.slice(0, dot), ext: name.slice(dot + 1).toLowerCase() };
}

async function readEntry(entry: AsyncIterable<unknown>, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  let o = 0;
  for await (const c of entry) {
    const chunk = c as Uint8Array;
    if (o + chunk.length > size) throw new Error(`member longer than its header's ${size} bytes`);
    out.set(chunk, o);
    o += chunk.length;
  }
  if (o !== size) throw new Error(`member truncated: ${o} of ${size} bytes`);
  return out;
}

async function drain(entry: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of entry) { /* skip */ }
}

interface Pending {
  key: string;
  image?: { bytes: Uint8Array; member: string };
  imageError?: string;
  json?: Record<string, unknown>;
  caption?: string;
  problems: string[];
}

function finish(p: Pending): TarSample {
  const sample: TarSample = {
    key: p.key,
    image: p.image ?? { error: p.imageError ?? `no image member (${IMAGE_EXT.join(', ')})${p.problems.length ? `; ${p.problems.join('; ')}` : ''}` },
  };
  if (p.json) sample.json = p.json;
  if (p.caption !== undefined) sample.caption = p.caption;
  return sample;
}

/**
 * The samples of one shard, in tar order. A corrupt tar (bad header, truncated) throws an Error naming
 * the shard after yielding the samples before the damage.
 */
export async function* readTarSamples(path: string): AsyncGenerator<TarSample> {
  const extract = tarStream.extract();
  const reading = pipeline(createReadStream(path), extract);
  let failed: Error | null = null;
  reading.catch((e: Error) => { failed = e; });
  let current: Pending | null = null;
  try {
    for await (const entry of extract) {
      const h = entry.header;
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        await drain(entry);
        continue;
      }
      const { key, ext } = splitName(h.name);
      if (current && current.key !== key) {
        yield finish(current);
        current = null;
      }
      current ??= { key, problems: [] };
      const size = h.size ?? 0;
      if (IMAGE_EXT.includes(ext) && !current.image) {
        if (size > MAX_IMAGE_BYTES) {
          current.imageError = `member ${h.name}: ${size} bytes is beyond the ${MAX_IMAGE_BYTES} this command reads`;
          await drain(entry);
        } else {
          current.image = { bytes: await readEntry(entry, size), member: h.name };
        }
      } else if ((ext === 'json' || ext === 'txt') && size <= MAX_SIDECAR_BYTES) {
        const text = new TextDecoder().decode(await readEntry(entry, size));
        if (ext === 'txt') current.caption = text;
        else {
          try {
            const v = JSON.parse(text) as unknown;
            if (v && typeof v === 'object' && !Array.isArray(v)) current.json = v as Record<string, unknown>;
            else current.problems.push(`${h.name} is not a JSON object`);
          } catch (e) {
            current.problems.push(`${h.name}: invalid JSON (${(e as Error).message})`);
          }
        }
      } else {
        await drain(entry);
      }
    }
    await reading.catch(() => undefined);
  } catch (e) {
    failed ??= e as Error;
  }
  if (failed) throw new Error(`tar shard ${path}: ${(failed as Error).message}${current ? ` (after sample '${current.key}')` : ''}`);
  if (current) yield finish(current);
}
