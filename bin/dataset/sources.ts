// The dataset's inputs, listed and split into parts before any GPU work. Every input on the command
// line is one of: a folder (walked recursively; a file counts as an image when its extension says so
// or, failing that, its first bytes do), a webdataset .tar shard (brace ranges such as
// data/{00000..00099}.tar expand here, so they work quoted), a single image, or a text file of image
// paths (one per line; '#' comments; relative paths are relative to the list's folder).
//
// Parts depend only on the sorted input list: the image files, sorted and de-duplicated, are cut into
// parts of --part-size in order; then each tar shard, sorted by path, is one part. A part's number is
// its position in that list, so every shard of a distributed run and every rerun agree on it.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import braces from 'braces';
import { sniffFormat } from '../../src/internal.js';
import { CliError } from '../cli.js';

export type Part =
  | { index: number; kind: 'files'; paths: string[] }
  | { index: number; kind: 'tar'; tar: string };

export interface DatasetPlan {
  parts: Part[];
  /** Image files (not counting tar members, which are only known once a shard is read). */
  files: number;
  tars: number;
  /** sha256 of the sorted input list: a rerun into the same output must list the same inputs. */
  inputHash: string;
}

const IMAGE_EXTENSIONS = new Set(['jpg', 'jpeg', 'png', 'webp', 'gif', 'bmp', 'tif', 'tiff', 'jfif']);
const MAX_LIST_BYTES = 1 << 30;

const extension = (path: string): string => /\.([^./]+)$/.exec(path)?.[1]?.toLowerCase() ?? '';

/** The first 12 bytes, enough for sniffFormat; empty when unreadable. */
function head(path: string): Uint8Array {
  const buf = new Uint8Array(12);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    return buf.subarray(0, readSync(fd, buf, 0, 12, 0));
  } catch {
    return new Uint8Array(0);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function looksLikeImage(path: string): boolean {
  return IMAGE_EXTENSIONS.has(extension(path)) || sniffFormat(head(path)) !== 'unknown';
}

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((e: Error) => {
    throw new CliError(`--input ${dir}: cannot read folder: ${e.message}`);
  });
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) await walk(path, out);
    else if (e.isFile() || e.isSymbolicLink()) {
      if (e.isSymbolicLink() && !(await stat(path).then((s) => s.isFile(), () => false))) continue;
      if (looksLikeImage(path)) out.push(path);
    }
  }
}

async function readList(path: string, out: string[]): Promise<void> {
  const size = (await stat(path)).size;
  if (size > MAX_LIST_BYTES) throw new CliError(`--input ${path}: a list of ${size} bytes is beyond the 1 GiB this command reads; split it`);
  const text = await readFile(path, 'utf8');
  if (text.includes('\0')) throw new CliError(`--input ${path}: not an image, a .tar shard, a folder or a text file of paths (it holds binary data; first bytes ${hex(head(path))})`);
  const base = dirname(path);
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line && !line.startsWith('#')) out.push(isAbsolute(line) ? line : join(base, line));
  }
}

const hex = (b: Uint8Array): string => Array.from(b.subarray(0, 8), (v) => v.toString(16).padStart(2, '0')).join(' ');

/** Brace ranges and lists, as webdataset/img2dataset write them: data/{00000..00099}.tar. */
export function expandInput(spec: string): string[] {
  return spec.includes('{') ? braces.expand(spec) : [spec];
}

/** Lists every input (one-line CliError for a missing one) and cuts the sorted list into parts. */
export async function planDataset(inputs: readonly string[], partSize: number): Promise<DatasetPlan> {
  const files: string[] = [];
  const tars: string[] = [];
  for (const spec of inputs) {
    const expanded = expandInput(spec);
    if (expanded.length > 10_000_000) throw new CliError(`--input ${spec}: expands to ${expanded.length} names; that is beyond the 10 M this command lists`);
    for (const path of expanded) {
      const s = await stat(path).catch(() => null);
      if (!s) throw new CliError(`--input ${path}: no such file or folder${expanded.length > 1 ? ` (from ${spec})` : ''}`);
      if (s.isDirectory()) await walk(path, files);
      else if (extension(path) === 'tar') tars.push(path);
      else if (sniffFormat(head(path)) !== 'unknown') files.push(path);
      else await readList(path, files);
    }
  }
  const sortedFiles = [...new Set(files)].sort();
  const sortedTars = [...new Set(tars)].sort();
  if (sortedFiles.length === 0 && sortedTars.length === 0) throw new CliError(`no images found in ${inputs.join(', ')}`);
  const parts: Part[] = [];
  for (let i = 0; i < sortedFiles.length; i += partSize) parts.push({ index: parts.length, kind: 'files', paths: sortedFiles.slice(i, i + partSize) });
  for (const tar of sortedTars) parts.push({ index: parts.length, kind: 'tar', tar });
  const hash = createHash('sha256');
  for (const f of sortedFiles) hash.update(`f\0${f}\0`);
  for (const t of sortedTars) hash.update(`t\0${t}\0`);
  return { parts, files: sortedFiles.length, tars: sortedTars.length, inputHash: hash.digest('hex') };
}
