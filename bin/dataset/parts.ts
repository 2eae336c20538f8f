// Part files in clip-retrieval's layout, each written to a temporary name and renamed when complete:
//   DIR/img_emb/img_emb_<part>.npy          (rows, D) float16 or float32, C order
//   DIR/metadata/metadata_<part>.parquet    one row per embedding, same order
//   DIR/errors/errors_<part>.jsonl          one line per input that failed: {"input", "error"}
// The .npy is renamed last, so a part is complete exactly when its .npy exists (with the others).
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { toHalfBits } from '../../src/internal.js';

export type EmbeddingDType = 'f16' | 'f32';

export interface MetadataRow {
  /** image_path (files) or key (tar samples). */
  id: string;
  width: number;
  height: number;
  tiles: number;
  json?: Record<string, unknown>;
  caption?: string;
}

export interface PartOutput {
  index: number;
  /** 'files' parts name rows by image_path; 'tar' parts by key, with the shard's path. */
  kind: 'files' | 'tar';
  tar?: string;
  rows: MetadataRow[];
  /** rows.length × dim values, row-major. */
  vectors: Float32Array;
  dim: number;
  errors: { input: string; error: string }[];
}

export const SUBDIRS = ['img_emb', 'metadata', 'errors'] as const;

export function partName(index: number, partCount: number): string {
  return String(index).padStart(Math.max(5, String(Math.max(partCount - 1, 0)).length), '0');
}

export function partFiles(dir: string, name: string): { npy: string; parquet: string; errors: string } {
  return {
    npy: join(dir, 'img_emb', `img_emb_${name}.npy`),
    parquet: join(dir, 'metadata', `metadata_${name}.parquet`),
    errors: join(dir, 'errors', `errors_${name}.jsonl`),
  };
}

export function isPartComplete(dir: string, name: string): boolean {
  const f = partFiles(dir, name);
  return existsSync(f.npy) && existsSync(f.parquet) && existsSync(f.errors);
}

export async function makeOutputDirs(dir: string): Promise<void> {
  for (const sub of SUBDIRS) await mkdir(join(dir, sub), { recursive: true });
}

/** Temporary files a killed run left for these parts (other shards' parts are not touched). */
export async function removeStaleTemps(dir: string, names: ReadonlySet<string>): Promise<number> {
  let removed = 0;
  for (const sub of SUBDIRS) {
    for (const f of await readdir(join(dir, sub))) {
      const m = /^[a-z_]+_(\d+)\.[a-z]+\.tmp-\d+$/.exec(f);
      if (m && names.has(m[1]!)) {
        await unlink(join(dir, sub, f)).catch(() => undefined);
        removed++;
      }
    }
  }
  return removed;
}

/** NumPy .npy (format 1.0): magic, header dict padded to a multiple of 64 bytes, then the data. */
export function npyBytes(values: Float32Array, rows: number, dim: number, dtype: EmbeddingDType, what: string): Uint8Array {
  if (values.length !== rows * dim) throw new Error(`${what}: ${values.length} values for ${rows}×${dim}`);
  const data = dtype === 'f32' ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength) : (() => {
    const bits = toHalfBits(values, 'f16', what);
    return new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
  })();
  const dict = `{'descr': '<${dtype === 'f32' ? 'f4' : 'f2'}', 'fortran_order': False, 'shape': (${rows}, ${dim}), }`;
  const unpadded = 10 + dict.length + 1;
  const header = dict + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}

type Column = Parameters<typeof parquetWriteBuffer>[0]['columnData'][number];

/** One column for a JSON sidecar field: numbers, booleans or strings when every value agrees, else JSON text. */
function jsonColumn(name: string, values: unknown[]): Column {
  const present = values.filter((v) => v !== null && v !== undefined);
  const orNull = <T>(f: (v: unknown) => T) => values.map((v) => (v === null || v === undefined ? null : f(v)));
  if (present.length && present.every((v) => typeof v === 'boolean')) return { name, data: orNull((v) => v as boolean), type: 'BOOLEAN' };
  if (present.length && present.every((v) => typeof v === 'number' && Number.isSafeInteger(v))) return { name, data: orNull((v) => BigInt(v as number)), type: 'INT64' };
  if (present.length && present.every((v) => typeof v === 'number')) return { name, data: orNull((v) => v as number), type: 'DOUBLE' };
  return { name, data: orNull((v) => (typeof v === 'string' ? v : JSON.stringify(v))), type: 'STRING' };
}

export function metadataParquet(part: PartOutput): Uint8Array {
  const rows = part.rows;
  const columns: Column[] = part.kind === 'files'
    ? [{ name: 'image_path', data: rows.map((r) => r.id), type: 'STRING' }]
    : [{ name: 'key', data: rows.map((r) => r.id), type: 'STRING' }, { name: 'tar', data: rows.map(() => part.tar ?? ''), type: 'STRING' }];
  columns.push(
    { name: 'width', data: rows.map((r) => r.width), type: 'INT32' },
    { name: 'height', data: rows.map((r) => r.height), type: 'INT32' },
    { name: 'tiles', data: rows.map((r) => r.tiles), type: 'INT32' },
  );
  if (rows.some((r) => r.caption !== undefined)) columns.push({ name: 'caption', data: rows.map((r) => r.caption ?? null), type: 'STRING' });
  // Sidecar fields in first-seen order; a name we already use gets a json_ prefix.
  const keys = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r.json ?? {})) keys.add(k);
  for (const k of keys) {
    let name = k;
    while (columns.some((c) => c.name === name)) name = `json_${name}`;
    columns.push(jsonColumn(name, rows.map((r) => r.json?.[k])));
  }
  return new Uint8Array(parquetWriteBuffer({ columnData: columns, createdBy: 'internvit-webgpu embed-dataset' }));
}

async function writeTemp(path: string, bytes: Uint8Array | string): Promise<string> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  return tmp;
}

/** Writes a part's three files under temporary names, then renames them, the .npy last. */
export async function writePart(dir: string, name: string, part: PartOutput, dtype: EmbeddingDType): Promise<void> {
  const f = partFiles(dir, name);
  const npy = npyBytes(part.vectors, part.rows.length, part.dim, dtype, `part ${name}`);
  const errors = part.errors.map((e) => `${JSON.stringify(e)}\n`).join('');
  const temps: [string, string][] = [];
  try {
    temps.push([await writeTemp(f.errors, errors), f.errors]);
    temps.push([await writeTemp(f.parquet, metadataParquet(part)), f.parquet]);
    temps.push([await writeTemp(f.npy, npy), f.npy]);
    for (const [tmp, final] of temps) await rename(tmp, final);
  } catch (e) {
    for (const [tmp] of temps) await unlink(tmp).catch(() => undefined);
    throw e;
  }
}
