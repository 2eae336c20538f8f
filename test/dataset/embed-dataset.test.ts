// `internvit embed-dataset` as users run it: the built executable (with its decode worker file) in
// child processes, on a generated folder (nested, an extension-less PNG, a corrupt file, a text file
// that is not an image) and two webdataset shards with .json sidecars, the tiny bundled model at
// 28 px. Proves: the union of --shard 0/2 and 1/2 (the second via --shard auto and SLURM's
// environment) equals one run byte for byte; a run killed with SIGKILL mid-way and rerun equals one
// run; corrupt inputs are reported, not embedded; parquet rows align with npy rows; an embedding
// equals `internvit embed --image` pooled the same way; mistakes are one line before any GPU work.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../bin/main.js';
import { f16BitsToF32 } from '../../src/runtime/dtype.js';
import { F16_COSINE_MIN, tokenCosine } from '../../src/model/precision.js';
import { at, buildCli, expectClose, readOutputs, runCli, spawnCli, tempDir, type ProcessResult } from '../cli/harness.js';
import { encodeImage, generateImages, writeImages, writeTar } from '../../bench/lib/dataset-images.js';

const MODEL = at('models/internvit-tiny');
const COMMON = ['--model', MODEL, '--size', '28', '--batch', '4', '--part-size', '2', '--workers', '2', '--progress-interval', '0'];
const D = 128;

/** Every file under dir (relative path → bytes), except the per-shard run summaries. */
function tree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) { if (e.name !== 'shards') walk(p); } else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

function expectSameTree(got: string, want: string): void {
  const a = tree(got);
  const b = tree(want);
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [k, v] of b) expect(a.get(k)!.equals(v), `${k} differs`).toBe(true);
}

function readNpy(path: string): { shape: [number, number]; data: Float32Array } {
  const b = readFileSync(path);
  const hlen = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + hlen).toString('latin1');
  const m = /'descr': '<f([24])'.*'shape': \((\d+), (\d+)\)/.exec(header);
  if (!m) throw new Error(`${path}: unexpected header ${header}`);
  const rows = Number(m[2]);
  const cols = Number(m[3]);
  const body = b.subarray(10 + hlen);
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = m[1] === '4' ? body.readFloatLE(i * 4) : f16BitsToF32(body.readUInt16LE(i * 2));
  return { shape: [rows, cols], data };
}

async function readParquet(path: string): Promise<Record<string, unknown>[]> {
  const b = readFileSync(path);
  return parquetReadObjects({ file: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer });
}

const parts = (dir: string, sub: string) => readdirSync(join(dir, sub)).filter((f) => !f.includes('.tmp-')).sort();

describe('internvit embed-dataset', () => {
  let cli: ReturnType<typeof buildCli>;
  const tmp = tempDir();
  const data = join(tmp, 'data');
  const tars = join(tmp, 'tars');
  const out = (name: string) => join(tmp, name);
  const inputs = ['--input', data, '--input', `${tars}/{00000..00001}.tar`];
  const run = (args: string[], env?: Record<string, string>): ProcessResult => {
    const r = spawnCli(cli.js, args, { env });
    if (r.code !== 0) console.log(`exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`);
    return r;
  };
  const images = generateImages(9, 11, 'n/img');

  beforeAll(async () => {
    cli = buildCli();
    writeImages(data, images);
    writeFileSync(join(data, 'n', 'noext'), encodeImage('png', 33, 47, 5));
    writeFileSync(join(data, 'bad.jpg'), 'this is not a JPEG');
    writeFileSync(join(data, 'readme.txt'), 'a text file is not an input');
    const t = generateImages(7, 12, 's');
    const sample = (i: number, extra: Record<string, string> = {}) => ({
      key: `s${i}`, members: { [t[i]!.kind === 'png' ? 'png' : 'jpg']: t[i]!.bytes, json: JSON.stringify({ caption: `caption ${i}`, url: `http://example.com/${i}.jpg`, n: i }), ...extra },
    });
    await writeTar(join(tars, '00000.tar'), [
      sample(0), { key: 's1', members: { json: '{"caption": "no image"}' } }, { key: 's2', members: { png: Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(' then garbage, no IHDR chunk at all')]), json: '{}' } }, sample(3),
    ]);
    await writeTar(join(tars, '00001.tar'), [sample(4), sample(5), sample(6)]);
  }, 300_000);
  afterAll(() => {
    cli?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('one run: parts in clip-retrieval layout, rows aligned, failures listed and not embedded', async () => {
    const r = run(['embed-dataset', ...COMMON, ...inputs, '--output', out('a'), '--dtype', 'f32']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/inputs: 11 image files and 2 tar shards → 8 parts; shard 0\/1/);
    expect(r.stderr).toMatch(/done: 15 images embedded, 3 errors, 8 parts written/);
    expect(r.stderr).toMatch(/time: GPU forward .* upload .* waiting for decode .* decode work .* over 2 worker threads/);
    const names = ['00000', '00001', '00002', '00003', '00004', '00005', '00006', '00007'];
    expect(parts(out('a'), 'img_emb')).toEqual(names.map((n) => `img_emb_${n}.npy`));
    expect(parts(out('a'), 'metadata')).toEqual(names.map((n) => `metadata_${n}.parquet`));
    let rows = 0;
    const errors: { input: string; error: string }[] = [];
    for (const n of names) {
      const npy = readNpy(join(out('a'), 'img_emb', `img_emb_${n}.npy`));
      const meta = await readParquet(join(out('a'), 'metadata', `metadata_${n}.parquet`));
      expect(npy.shape, `part ${n}`).toEqual([meta.length, D]);
      rows += meta.length;
      errors.push(...readFileSync(join(out('a'), 'errors', `errors_${n}.jsonl`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { input: string; error: string }));
    }
    expect(rows).toBe(15);
    expect(errors).toEqual([
      { input: join(data, 'bad.jpg'), error: expect.stringMatching(/bad\.jpg': unsupported format/) },
      { input: 's1', error: expect.stringMatching(/^no image member/) },
      { input: 's2', error: expect.stringMatching(/00000\.tar:s2\.png': corrupt PNG/) },
    ]);
    // Files in sorted order, two per part; bad.jpg failed in part 0; the extension-less PNG was found.
    const meta0 = await readParquet(join(out('a'), 'metadata', 'metadata_00000.parquet'));
    expect(meta0).toEqual([{ image_path: join(data, 'n', 'img0000.png'), width: images[0]!.width, height: images[0]!.height, tiles: 1 }]);
    const all = (await Promise.all(names.slice(0, 6).map((n) => readParquet(join(out('a'), 'metadata', `metadata_${n}.parquet`))))).flat();
    expect(all.map((m) => m.image_path)).toEqual([...images.map((i) => join(data, i.name)), join(data, 'n', 'noext')].sort());
    // Tar parts: key, shard, and the sidecar's fields passed through.
    const meta6 = await readParquet(join(out('a'), 'metadata', 'metadata_00006.parquet'));
    expect(meta6.map((m) => [m.key, m.tar, m.caption, m.url, m.n])).toEqual([
      ['s0', join(tars, '00000.tar'), 'caption 0', 'http://example.com/0.jpg', 0n],
      ['s3', join(tars, '00000.tar'), 'caption 3', 'http://example.com/3.jpg', 3n],
    ]);
  });

  // The references run `embed --image`, which compiles GPU preprocessing per image size and a B = 1
  // forward: the slow part of this file on a software adapter, so few images.
  it('an embedding equals `internvit embed --image` (CLS, clip, 28 px): a PNG, and JPEGs against Pillow\'s decode of them', async () => {
    const all = await Promise.all(['00000', '00001', '00002', '00003'].map(async (n) => ({
      meta: await readParquet(join(out('a'), 'metadata', `metadata_${n}.parquet`)),
      npy: readNpy(join(out('a'), 'img_emb', `img_emb_${n}.npy`)),
    })));
    for (const img of [images[2]!]) {
      const path = join(data, img.name);
      const one = out(`${img.kind}.safetensors`);
      const r = run(['embed', '--model', MODEL, '--image', path, '--mode', 'clip', '--size', '28', '--output', one]);
      expect(r.code).toBe(0);
      const want = readOutputs(one).get('pooler_output')!;
      const part = all.find((p) => p.meta.some((m) => m.image_path === path))!;
      const row = part.meta.findIndex((m) => m.image_path === path);
      expectClose(`${img.name} row ${row}`, { shape: [1, D], data: part.npy.data.slice(row * D, (row + 1) * D) }, want);
    }
    // JPEGs decode with sharp (libvips), whose pixels equal Pillow's: the dataset's embedding of a
    // JPEG equals `embed --image` of Pillow's decode of it, saved as PNG (a 4:2:0 and a 4:4:4 file).
    const src = at('test/fixtures/preprocess/sources');
    const jpegs = ['jpeg420_48x40', 'jpeg_48x40'];
    const r = run(['embed-dataset', ...COMMON, ...jpegs.flatMap((j) => ['--input', join(src, `${j}.jpg`)]), '--output', out('j'), '--dtype', 'f32']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/decoders: JPEG and WebP: sharp [\d.]+ \(libvips [\d.]+; Pillow's pixels\), PNG: pngjs; 2 worker threads/);
    const npy = readNpy(join(out('j'), 'img_emb', 'img_emb_00000.npy'));
    for (const [row, j] of jpegs.entries()) {
      const one = out(`${j}.safetensors`);
      expect(run(['embed', '--model', MODEL, '--image', join(src, `${j}.pil.png`), '--mode', 'clip', '--size', '28', '--output', one]).code).toBe(0);
      expectClose(`${j}.jpg vs Pillow's pixels`, { shape: [1, D], data: npy.data.slice(row * D, (row + 1) * D) }, readOutputs(one).get('pooler_output')!);
    }
  }, 300_000);

  it('--shard 0/2 and --shard auto (SLURM task 1 of 2) together write exactly the one run\'s files', () => {
    const r0 = run(['embed-dataset', ...COMMON, ...inputs, '--output', out('b'), '--dtype', 'f32', '--shard', '0/2']);
    expect(r0.code).toBe(0);
    expect(r0.stderr).toMatch(/shard 0\/2 \(--shard 0\/2\): 4 parts, 0 already complete/);
    expect(parts(out('b'), 'img_emb')).toEqual(['img_emb_00000.npy', 'img_emb_00002.npy', 'img_emb_00004.npy', 'img_emb_00006.npy']);
    const r1 = run(['embed-dataset', ...COMMON, ...inputs, '--output', out('b'), '--dtype', 'f32', '--shard', 'auto'], { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '2' });
    expect(r1.code).toBe(0);
    expect(r1.stderr).toMatch(/shard 1\/2 \(SLURM_ARRAY_TASK_ID=1, SLURM_ARRAY_TASK_COUNT 2\): 4 parts/);
    expectSameTree(out('b'), out('a'));
    expect(readdirSync(join(out('b'), 'shards')).sort()).toEqual(['shard_0_of_2.json', 'shard_1_of_2.json']);
  });

  it('killed with SIGKILL mid-way, then rerun: exactly the one run\'s files', async () => {
    const args = ['embed-dataset', ...COMMON, ...inputs, '--output', out('c'), '--dtype', 'f32'];
    const child = spawn(process.execPath, [cli.js, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    const first = join(out('c'), 'img_emb', 'img_emb_00000.npy');
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_code, signal) => res(signal)));
    const deadline = Date.now() + 240_000;
    while (!existsSync(first) && Date.now() < deadline && child.exitCode === null) await new Promise((res) => setTimeout(res, 5));
    child.kill('SIGKILL');
    expect(await exited, 'the run was still going when killed').toBe('SIGKILL');
    const done = parts(out('c'), 'img_emb').length;
    console.log(`killed after ${done} of 8 parts`);
    expect(done).toBeGreaterThanOrEqual(1);
    expect(done, 'killed before the last part').toBeLessThan(8);
    const r = run(args);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`8 parts, ${done} already complete \\(resuming\\)`));
    expectSameTree(out('c'), out('a'));
    for (const sub of ['img_emb', 'metadata', 'errors']) expect(readdirSync(join(out('c'), sub)).filter((f) => f.includes('.tmp-'))).toEqual([]);
    // Once complete, a rerun does nothing and needs no GPU.
    const again = run(args);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/nothing to do/);
    expect(again.stderr).not.toMatch(/adapter:/);
  }, 300_000);

  it('--mode internvl --pool mean --dtype f16 from a list file equals embed --image averaged over tiles', async () => {
    const list = out('list.txt');
    const picked = [images[2]!]; // a 62×46 PNG: a 3×2 grid + thumbnail, 7 tiles over two batches
    writeFileSync(list, picked.map((i) => relative(tmp, join(data, i.name))).join('\n'));
    const r = run(['embed-dataset', ...COMMON, '--input', list, '--output', out('d'), '--mode', 'internvl', '--max-tiles', '6', '--pool', 'mean']);
    expect(r.code).toBe(0);
    const npy = readNpy(join(out('d'), 'img_emb', 'img_emb_00000.npy'));
    const meta = await readParquet(join(out('d'), 'metadata', 'metadata_00000.parquet'));
    expect(meta.map((m) => m.image_path)).toEqual(picked.map((i) => join(data, i.name)));
    for (const [row, img] of picked.entries()) {
      const one = out(`tiles-${row}.safetensors`);
      expect(run(['embed', '--model', MODEL, '--image', join(data, img.name), '--mode', 'internvl', '--max-tiles', '6', '--size', '28', '--output', one]).code).toBe(0);
      const h = readOutputs(one).get('last_hidden_state')!;
      const [T, N] = h.shape as [number, number, number];
      expect(meta[row]!.tiles).toBe(T);
      const want = new Float32Array(D);
      for (let t = 0; t < T; t++) for (let n = 1; n < N; n++) for (let d = 0; d < D; d++) want[d]! += h.data[(t * N + n) * D + d]! / ((N - 1) * T);
      const got = npy.data.slice(row * D, (row + 1) * D);
      // Stored as f16: within its rounding (2^-11 relative) on top of the float32 tolerance.
      for (let d = 0; d < D; d++) expect(Math.abs(got[d]! - want[d]!), `${img.name} tiles ${T} d ${d}`).toBeLessThanOrEqual(5e-4 + 1e-3 * Math.abs(want[d]!));
    }
  }, 300_000);

  it('--precision f16: each embedding within the f16 contract (cosine ≥ 0.9995) of the f32 run', () => {
    const src = at('test/fixtures/preprocess/sources');
    const jpegs = ['jpeg420_48x40', 'jpeg_48x40']; // the f32 run of the same inputs is out('j'), above
    const r = run(['embed-dataset', ...COMMON, ...jpegs.flatMap((j) => ['--input', join(src, `${j}.jpg`)]), '--output', out('h'), '--dtype', 'f32', '--precision', 'f16']);
    expect(r.code).toBe(0);
    const got = readNpy(join(out('h'), 'img_emb', 'img_emb_00000.npy'));
    const want = readNpy(join(out('j'), 'img_emb', 'img_emb_00000.npy'));
    expect(got.shape).toEqual(want.shape);
    const c = tokenCosine(got.data, want.data, D);
    console.log(`f16 vs f32 over ${c.rows} embeddings: min cosine ${c.min.toFixed(7)} (row ${c.worstRow}), ${c.nonFinite} non-finite`);
    expect(c.nonFinite).toBe(0);
    expect(c.min).toBeGreaterThanOrEqual(F16_COSINE_MIN);
  }, 300_000);

  it('--max-errors: exceeding it stops the run with exit 1, naming the failure', () => {
    const r = run(['embed-dataset', ...COMMON, ...inputs, '--output', out('e'), '--max-errors', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^internvit: more than --max-errors 0 images failed \(last: .*bad\.jpg': unsupported format.*\); completed parts are kept/);
  });

  const mistakes: [string, string[], RegExp][] = [
    ['missing input', ['--input', join(tmp, 'nope')], /--input .*nope: no such file or folder/],
    ['missing tar in a brace range', ['--input', `${tars}/{00000..00002}.tar`], /--input .*00002\.tar: no such file or folder \(from .*\{00000\.\.00002\}\.tar\)/],
    ['output under a file', ['--input', data, '--output', join(data, 'bad.jpg', 'out')], /--output .*bad\.jpg\/out: cannot write there/],
    ['output is a file', ['--input', data, '--output', join(data, 'readme.txt')], /--output .*readme\.txt is a file; give a folder/],
    ['other settings in the output folder', ['--input', data, '--input', `${tars}/{00000..00001}.tar`, '--output', 'A', '--dtype', 'f32', '--pool', 'mean'], /holds a run with other settings \(pool: "cls" there, "mean" now\)/],
    ['other inputs in the output folder', ['--input', data, '--output', 'A', '--dtype', 'f32'], /holds a run with other settings \(parts: 8 there, 6 now; inputs: /],
    ['bad --shard', ['--input', data, '--shard', '2/2'], /--shard 2\/2: shard index 2 is not below the shard count 2/],
    ['--shard auto outside a scheduler', ['--input', data, '--shard', 'auto'], /--shard auto found neither JOB_COMPLETION_INDEX/],
    ['bad --pool', ['--input', data, '--pool', 'max'], /--pool must be one of cls, mean \(got 'max'\)/],
    ['bad precision', ['--input', data, '--precision', 'f8'], /--precision must be one of f32, f16, auto \(got 'f8'\)/],
    ['no --input', [], /--input <folder\|file\.tar\|list\.txt\|image> is required/],
  ];
  // In this process (bin/main.ts): each mistake must fail before the command asks for a GPU.
  // withGpu reads io.gpu first: a mistake found after that point would fail with 'a GPU was requested'.
  const noGpu = (err: string[]) => ({ out: () => undefined, err: (l = '') => { err.push(l); }, get gpu(): undefined { throw new Error('a GPU was requested'); } });
  it('(the probe: a correct command does ask for a GPU)', async () => {
    const err: string[] = [];
    mkdirSync(out('g'), { recursive: true });
    expect(await main(['embed-dataset', ...COMMON, '--input', data, '--output', out('g')], noGpu(err))).toBe(1);
    expect(err.at(-1)).toBe('internvit: a GPU was requested');
  });
  for (const [what, args, want] of mistakes) {
    it(`one line before any GPU work: ${what}`, async () => {
      mkdirSync(out('f'), { recursive: true });
      const withOut = args.includes('--output') ? args.map((a) => (a === 'A' ? out('a') : a)) : [...args, '--output', out('f')];
      const err: string[] = [];
      const code = await main(['embed-dataset', ...COMMON, ...withOut], noGpu(err));
      expect(code).not.toBe(0);
      expect(err, err.join('\n')).toHaveLength(1);
      expect(err[0]).toMatch(/^internvit: /);
      expect(err[0]).toMatch(want);
    });
  }

  it('--help describes every option', async () => {
    const r = await runCli(['embed-dataset', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--input', '--output', '--mode', '--pool', '--normalize', '--dtype', '--batch', '--part-size', '--shard', '--max-errors', '--workers', '--prefetch', '--precision', '--weights']) expect(r.stdout).toContain(flag);
  });
});
