// embed-dataset's pieces without a GPU: shard selection (flags and scheduler environments), input
// listing and part planning, .npy and Parquet part files (read back with hyparquet), webdataset tar
// reading, CPU preprocessing against the CPU reference, and pooling.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects, parquetSchema, parquetMetadata } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import { imageToTiles } from '../../bin/dataset/decode.js';
import { metadataParquet, npyBytes, partName } from '../../bin/dataset/parts.js';
import { createDecodePool } from '../../bin/dataset/pool.js';
import { addTileVector, finishVector } from '../../bin/dataset/pooling.js';
import { progressLine } from '../../bin/dataset/progress.js';
import { ownsPart, resolveShard } from '../../bin/dataset/shard.js';
import { expandInput, planDataset } from '../../bin/dataset/sources.js';
import { readTarSamples } from '../../bin/dataset/tar.js';
import { decodeBytes, preprocessReference } from '../../src/internal.js';
import { f16BitsToF32 } from '../../src/runtime/dtype.js';
import { encodeImage, generateImages, imagePixels, writeImages, writeTar } from '../../bench/lib/dataset-images.js';

const tmp = mkdtempSync(join(tmpdir(), 'internvit-dataset-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('--shard', () => {
  it('i/n and the whole dataset', () => {
    expect(resolveShard('1/4', undefined, {})).toMatchObject({ index: 1, count: 4 });
    expect(resolveShard(undefined, undefined, {})).toMatchObject({ index: 0, count: 1 });
    const owned = (i: number) => [0, 1, 2, 3, 4, 5, 6].filter((p) => ownsPart({ index: i, count: 3, source: '' }, p));
    expect([owned(0), owned(1), owned(2)]).toEqual([[0, 3, 6], [1, 4], [2, 5]]);
  });
  it('auto: Kubernetes Indexed Jobs and SLURM arrays', () => {
    expect(resolveShard('auto', '8', { JOB_COMPLETION_INDEX: '3' })).toMatchObject({ index: 3, count: 8 });
    expect(resolveShard('auto', undefined, { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '5' })).toMatchObject({ index: 2, count: 5 });
    // Arrays that start at 1 (--array=1-4): task ids 1..4 are shards 0..3.
    expect(resolveShard('auto', undefined, { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1' })).toMatchObject({ index: 3, count: 4 });
  });
  const bad: [string | undefined, string | undefined, NodeJS.ProcessEnv, RegExp][] = [
    ['4/4', undefined, {}, /shard index 4 is not below the shard count 4/],
    ['1/0', undefined, {}, /shard count must be ≥ 1/],
    ['1of4', undefined, {}, /--shard must be i\/n \(e\.g\. 0\/4\) or auto \(got '1of4'\)/],
    ['-1/4', undefined, {}, /--shard must be i\/n/],
    ['1/4', '4', {}, /--shards only applies with --shard auto/],
    [undefined, '4', {}, /--shards only applies with --shard auto/],
    ['auto', undefined, {}, /neither JOB_COMPLETION_INDEX .* nor SLURM_ARRAY_TASK_ID/],
    ['auto', undefined, { JOB_COMPLETION_INDEX: '0' }, /needs --shards n/],
    ['auto', '2', { JOB_COMPLETION_INDEX: '2' }, /shard index 2 is not below the shard count 2/],
    ['auto', 'x', { JOB_COMPLETION_INDEX: '0' }, /--shards must be a whole number \(got 'x'\)/],
    ['auto', undefined, { SLURM_ARRAY_TASK_ID: '1' }, /SLURM_ARRAY_TASK_COUNT must be a whole number/],
    ['auto', undefined, { SLURM_ARRAY_TASK_ID: 'a', SLURM_ARRAY_TASK_COUNT: '2' }, /SLURM_ARRAY_TASK_ID must be a whole number \(got 'a'\)/],
  ];
  for (const [shard, shards, env, want] of bad) {
    it(`refuses --shard ${shard} --shards ${shards} ${JSON.stringify(env)}`, () => {
      expect(() => resolveShard(shard, shards, env)).toThrow(want);
    });
  }
});

describe('inputs and parts', () => {
  const root = join(tmp, 'inputs');
  const images = generateImages(7, 3, 'a/b/img');
  writeImages(root, images);
  // Recognised by content: a PNG without an extension is an image; a text file is not.
  writeFileSync(join(root, 'a', 'noext'), encodeImage('png', 30, 20, 9));
  writeFileSync(join(root, 'a', 'notes.txt'), 'not an image\n');
  mkdirSync(join(root, 'tars'));
  for (const n of ['00000', '00001', '00002']) writeFileSync(join(root, 'tars', `${n}.tar`), '');
  writeFileSync(join(tmp, 'list.txt'), `# two images\ninputs/a/b/img0001.jpg\n\n${join(root, 'a', 'b', 'img0000.png')}\n`);

  it('walks folders recursively, by extension or by content', async () => {
    const plan = await planDataset([root], 3);
    const files = plan.parts.flatMap((p) => (p.kind === 'files' ? p.paths : []));
    expect(files).toEqual([...images.map((i) => join(root, i.name)), join(root, 'a', 'noext')].sort());
    expect(plan.parts.map((p) => (p.kind === 'files' ? p.paths.length : 0))).toEqual([3, 3, 2]);
  });
  it('parts depend only on the sorted input list', async () => {
    const a = await planDataset([join(root, 'a'), `${root}/tars/{00000..00002}.tar`], 4);
    const b = await planDataset([`${root}/tars/{00002,00000,00001}.tar`, join(root, 'a', 'b'), join(root, 'a')], 4);
    expect(b.parts).toEqual(a.parts);
    expect(b.inputHash).toBe(a.inputHash);
    expect(a.parts.map((p) => p.kind)).toEqual(['files', 'files', 'tar', 'tar', 'tar']);
    expect(a.parts.at(-1)).toEqual({ index: 4, kind: 'tar', tar: join(root, 'tars', '00002.tar') });
    const c = await planDataset([join(root, 'a', 'b')], 4);
    expect(c.inputHash).not.toBe(a.inputHash);
  });
  it('reads text lists of paths relative to the list', async () => {
    const plan = await planDataset([join(tmp, 'list.txt')], 10);
    expect(plan.parts).toEqual([{ index: 0, kind: 'files', paths: [join(root, 'a', 'b', 'img0000.png'), join(root, 'a', 'b', 'img0001.jpg')] }]);
  });
  it('expands brace ranges and names a missing input', async () => {
    expect(expandInput('d/{00008..00011}.tar')).toEqual(['d/00008.tar', 'd/00009.tar', 'd/00010.tar', 'd/00011.tar']);
    await expect(planDataset([`${root}/tars/{00000..00003}.tar`], 4)).rejects.toThrow(/--input .*00003\.tar: no such file or folder \(from .*\{00000\.\.00003\}\.tar\)/);
    mkdirSync(join(tmp, 'empty'), { recursive: true });
    await expect(planDataset([join(tmp, 'empty')], 4)).rejects.toThrow(/no images found in .*empty/);
    writeFileSync(join(tmp, 'blob.bin'), new Uint8Array([1, 0, 2, 3, 0, 0, 0, 0, 9]));
    await expect(planDataset([join(tmp, 'blob.bin')], 4)).rejects.toThrow(/blob\.bin: not an image, a \.tar shard, a folder or a text file of paths \(it holds binary data; first bytes 01 00 02 03/);
  });
  it('names parts with five digits or more', () => {
    expect([partName(3, 10), partName(12345, 200_000), partName(0, 1)]).toEqual(['00003', '012345', '00000']);
  });
});

describe('part files', () => {
  it('.npy: header padded to 64 bytes, little-endian f32 and f16 rows', () => {
    const v = new Float32Array([1, -2.5, 0.1, 65504, 3, 4]);
    for (const dtype of ['f32', 'f16'] as const) {
      const b = npyBytes(v, 2, 3, dtype, 't');
      expect(Array.from(b.subarray(0, 8))).toEqual([0x93, 78, 85, 77, 80, 89, 1, 0]);
      const hlen = b[8]! | (b[9]! << 8);
      expect((10 + hlen) % 64).toBe(0);
      const header = new TextDecoder().decode(b.subarray(10, 10 + hlen));
      expect(header).toMatch(new RegExp(`^\\{'descr': '<${dtype === 'f32' ? 'f4' : 'f2'}', 'fortran_order': False, 'shape': \\(2, 3\\), \\} *\\n$`));
      const body = b.subarray(10 + hlen);
      const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
      const got = Array.from({ length: 6 }, (_, i) => (dtype === 'f32' ? dv.getFloat32(i * 4, true) : f16BitsToF32(dv.getUint16(i * 2, true))));
      expect(got).toEqual(dtype === 'f32' ? Array.from(v) : [1, -2.5, f16BitsToF32(0x2e66), 65504, 3, 4]);
    }
    expect(() => npyBytes(new Float32Array([70000]), 1, 1, 'f16', 'part 00007')).toThrow(/part 00007: value 70000 .* does not fit f16/);
    expect(() => npyBytes(new Float32Array(5), 2, 3, 'f32', 't')).toThrow(/5 values for 2×3/);
  });

  it('metadata: columns in row order, sidecar fields typed, null where missing, our names first', async () => {
    const bytes = metadataParquet({
      index: 0, kind: 'tar', tar: 'd/00000.tar', dim: 2, vectors: new Float32Array(4), errors: [],
      rows: [
        { id: 's0', width: 10, height: 20, tiles: 1, caption: 'a cat', json: { url: 'http://x/0', n: 3, score: 0.5, ok: true, key: 'dup', extra: { a: 1 } } },
        { id: 's1', width: 30, height: 40, tiles: 13, json: { url: 'http://x/1', n: 4, score: 1, ok: false } },
      ],
    });
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const names = parquetSchema(parquetMetadata(file)).children.map((c) => c.element.name);
    expect(names).toEqual(['key', 'tar', 'width', 'height', 'tiles', 'caption', 'url', 'n', 'score', 'ok', 'json_key', 'extra']);
    const rows = await parquetReadObjects({ file });
    expect(rows).toEqual([
      { key: 's0', tar: 'd/00000.tar', width: 10, height: 20, tiles: 1, caption: 'a cat', url: 'http://x/0', n: 3n, score: 0.5, ok: true, json_key: 'dup', extra: '{"a":1}' },
      { key: 's1', tar: 'd/00000.tar', width: 30, height: 40, tiles: 13, caption: null, url: 'http://x/1', n: 4n, score: 1, ok: false, json_key: null, extra: null },
    ]);
    const empty = metadataParquet({ index: 1, kind: 'files', dim: 2, vectors: new Float32Array(0), errors: [], rows: [] });
    expect(await parquetReadObjects({ file: empty.buffer.slice(empty.byteOffset, empty.byteOffset + empty.byteLength) as ArrayBuffer })).toEqual([]);
  });
});

describe('webdataset tars', () => {
  it('groups members by key, passes sidecars through, reports samples without an image', async () => {
    const [a, b] = generateImages(2, 5);
    const path = join(tmp, 'shard.tar');
    await writeTar(path, [
      { key: 'dir/000', members: { jpg: a!.bytes, json: '{"caption": "one", "n": 1}', txt: 'hello' } },
      { key: 'dir/001', members: { json: '{"n": 2}' } },
      { key: 'dir/002', members: { 'png': b!.bytes, json: '[1, 2]' } },
    ]);
    const samples = [];
    for await (const s of readTarSamples(path)) samples.push(s);
    expect(samples.map((s) => s.key)).toEqual(['dir/000', 'dir/001', 'dir/002']);
    expect(samples[0]).toMatchObject({ json: { caption: 'one', n: 1 }, caption: 'hello', image: { member: 'dir/000.jpg' } });
    expect(Buffer.from((samples[0]!.image as { bytes: Uint8Array }).bytes).equals(Buffer.from(a!.bytes))).toBe(true);
    expect(samples[1]!.image).toEqual({ error: expect.stringMatching(/^no image member/) });
    expect(samples[2]!.json).toBeUndefined();
  });
  it('a damaged shard: the samples before the damage, then an error naming the shard', async () => {
    const [a] = generateImages(1, 6);
    const path = join(tmp, 'cut.tar');
    await writeTar(path, [{ key: 'k0', members: { png: a!.bytes } }, { key: 'k1', members: { png: a!.bytes } }]);
    const whole = readFileSync(path);
    writeFileSync(path, whole.subarray(0, 512 + Math.ceil(a!.bytes.length / 512) * 512 + 700));
    const keys: string[] = [];
    await expect((async () => { for await (const s of readTarSamples(path)) keys.push(s.key); })()).rejects.toThrow(/tar shard .*cut\.tar: /);
    expect(keys).toEqual(['k0']);
  });
});

describe('CPU preprocessing', () => {
  it('equals the reference pipeline (Pillow-exact resize, torchvision float32 normalization)', async () => {
    for (const [i, img] of generateImages(4, 8).entries()) {
      const mode = (['clip', 'none', 'internvl', 'internvl'] as const)[i]!;
      const opts = { mode, size: 28, maxTiles: 6 };
      const got = await imageToTiles(img.bytes, img.name, opts);
      const ref = preprocessReference(await decodeBytes(img.bytes, img.name), opts);
      expect([got.width, got.height, got.tiles]).toEqual([img.width, img.height, ref.layout.tiles]);
      // The reference normalizes in float64; ours in torchvision's float32 steps: within f32 rounding.
      let worst = 0;
      for (let k = 0; k < ref.pixelValues.length; k++) worst = Math.max(worst, Math.abs(got.pixels[k]! - ref.pixelValues[k]!));
      expect(got.pixels.length).toBe(ref.pixelValues.length);
      expect(worst, `${img.name} ${mode}`).toBeLessThan(1e-6);
    }
  });
  it('JPEGs through sharp give exactly Pillow\'s pixels (4:4:4 and 4:2:0); jpeg-js does not', async () => {
    const dir = 'test/fixtures/preprocess/sources';
    for (const name of ['jpeg_48x40', 'jpeg420_48x40']) {
      const opts = { mode: 'none' as const, size: 28 };
      const pil = await imageToTiles(readFileSync(join(dir, `${name}.pil.png`)), `${name}.pil.png`, opts);
      const viaSharp = await imageToTiles(readFileSync(join(dir, `${name}.jpg`)), `${name}.jpg`, opts, 'sharp');
      const viaJs = await imageToTiles(readFileSync(join(dir, `${name}.jpg`)), `${name}.jpg`, opts, 'jpeg-js');
      expect(viaSharp.pixels, name).toEqual(pil.pixels);
      expect(viaJs.pixels, `${name}: jpeg-js is known to differ`).not.toEqual(pil.pixels);
    }
    await expect(imageToTiles(readFileSync(join(dir, 'jpeg_48x40.jpg')).subarray(0, 300), 'cut.jpg', { mode: 'clip', size: 28 }, 'sharp')).rejects.toThrow(/image 'cut\.jpg': corrupt or unsupported JPEG \(/);
  });
  it('lossless WebP through sharp: exactly the pixels it was made from', async () => {
    const { default: sharp } = await import('sharp');
    const [w, h] = [37, 23];
    const rgba = imagePixels(w, h, 4);
    const webp = await sharp(rgba, { raw: { width: w, height: h, channels: 4 } }).webp({ lossless: true }).toBuffer();
    const opts = { mode: 'none' as const, size: 28 };
    const got = await imageToTiles(webp, 'a.webp', opts, 'sharp');
    const want = await imageToTiles(encodeImage('png', w, h, 4), 'a.png', opts);
    expect([got.width, got.height]).toEqual([w, h]);
    expect(got.pixels).toEqual(want.pixels);
    await expect(imageToTiles(webp, 'a.webp', opts, 'jpeg-js')).rejects.toThrow(/a\.webp': unsupported format WEBP/);
  });
  it('refuses a decompression bomb from its header, before decoding, in every decoder', async () => {
    const png = encodeImage('png', 4, 4, 1);
    const dv = new DataView(png.buffer, png.byteOffset);
    dv.setUint32(16, 20_000);
    dv.setUint32(20, 20_000);
    await expect(imageToTiles(png, 'bomb.png', { mode: 'clip', size: 28 })).rejects.toThrow(/bomb\.png': 20000×20000 is 400000000 pixels, more than the limit of 178956970/);
    const jpg = readFileSync('test/fixtures/preprocess/sources/jpeg_48x40.jpg');
    await expect(imageToTiles(jpg, 'a.jpg', { mode: 'clip', size: 28, maxImagePixels: 1000 }, 'sharp')).rejects.toThrow(/a\.jpg': more pixels than the limit of 1000 \(--max-image-pixels/);
    await expect(imageToTiles(jpg, 'a.jpg', { mode: 'clip', size: 28, maxImagePixels: 1000 }, 'jpeg-js')).rejects.toThrow(/a\.jpg': 48×40 is 1920 pixels, more than the limit of 1000/);
    expect((await imageToTiles(jpg, 'a.jpg', { mode: 'clip', size: 28, maxImagePixels: 1920 }, 'sharp')).tiles).toBe(1);
  });
});

describe('decode pool', () => {
  it('a worker that dies fails its job only; a fresh worker takes the next ones; results keep their jobs', async () => {
    const file = join(tmp, 'fake-worker.mjs');
    writeFileSync(file, `import { parentPort } from 'node:worker_threads';
parentPort.on('message', (job) => {
  if (job.name === 'crash') process.exit(3);
  if (job.name === 'throw') throw new Error('boom');
  setTimeout(() => parentPort.postMessage({ id: job.id, ok: false, error: 'echo ' + job.name, ms: 0 }), job.name === 'slow' ? 50 : 0);
});`);
    const pool = createDecodePool(2, file);
    try {
      const names = ['slow', 'a', 'crash', 'b', 'throw', 'c', 'd'];
      const replies = await Promise.all(names.map((name) => pool.decode({ name, bytes: new Uint8Array(1), opts: {}, jpeg: 'jpeg-js' })));
      expect(replies.map((r) => (r.ok ? 'ok' : r.error))).toEqual([
        'echo slow', 'echo a', 'decode worker died: exit code 3', 'echo b', 'decode worker died: boom', 'echo c', 'echo d',
      ]);
    } finally {
      await pool.close();
    }
  });
  it('without a worker file, jobs run in this thread', async () => {
    const pool = createDecodePool(4, null);
    expect(pool.threads).toBe(0);
    const r = await pool.decode({ name: 'x.png', bytes: encodeImage('png', 30, 20, 1), opts: { mode: 'none', size: 28 }, jpeg: 'jpeg-js' });
    expect(r.ok && [r.width, r.height, r.tiles, r.pixels.length]).toEqual([30, 20, 1, 3 * 28 * 28]);
  });
});

describe('progress', () => {
  it('lines count failed inputs as handled; ETA from inputs, or parts when tars make the total unknown', () => {
    expect(progressLine({ images: 8, errors: 2, partsDone: 1, imagesTotal: 20, partsTotal: 4 }, 10_000)).toBe('8 images (10/20 inputs), 0.80 images/s, 2 errors, parts 1/4, ETA 10s');
    expect(progressLine({ images: 500, errors: 0, partsDone: 1, imagesTotal: null, partsTotal: 100 }, 60_000)).toBe('500 images, 8.33 images/s, 0 errors, parts 1/100, ETA 1h39m');
  });
});

describe('pooling', () => {
  // Two tiles, N = 3 tokens, D = 2.
  const out = {
    lastHiddenState: { shape: [2, 3, 2], data: new Float32Array([9, 9, 1, 2, 3, 4, /**/ 7, 7, 5, 6, 7, 8]) },
    poolerOutput: { shape: [2, 2], data: new Float32Array([9, 9, 7, 7]) },
  };
  it('cls takes the CLS row, mean the patch tokens only; tiles are averaged; normalize gives unit length', () => {
    const cls = new Float64Array(2);
    addTileVector(cls, 'cls', out, 0);
    addTileVector(cls, 'cls', out, 1);
    const mean = new Float64Array(2);
    addTileVector(mean, 'mean', out, 0);
    addTileVector(mean, 'mean', out, 1);
    const v = new Float32Array(4);
    finishVector(cls, 2, false, v, 0);
    finishVector(mean, 2, true, v, 2);
    const m = [(2 + 6) / 2, (3 + 7) / 2];
    const n = Math.hypot(m[0]!, m[1]!);
    expect(Array.from(v)).toEqual([8, 8, Math.fround(m[0]! / n), Math.fround(m[1]! / n)]);
  });
});
