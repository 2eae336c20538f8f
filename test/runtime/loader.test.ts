// Checkpoint sources: local folders, sharded indexes, URL prefixes over HTTP Range requests, hub ids
// against a local server in the hub's layout, memory/Blob stores; progress; and what is never read.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  folderStore, FileNotFoundError, memoryStore, openCheckpoint, resolveStore, type LoadProgress,
} from '../../src/runtime/loader.js';
import { writeSafetensors } from '../../src/runtime/safetensors.js';
import { countingStore, makeTempDir, serveFolder, writeFiles, type TestServer } from './checkpoint-helpers.js';

const A = [1, 2, 3, 4, 5, 6];
const B = [-1.5, 2.25];
const C = [0.5];

const single = () => writeSafetensors({
  'enc.a': { dtype: 'F32', shape: [2, 3], data: A },
  'enc.b': { dtype: 'BF16', shape: [2], data: B },
  'enc.c': { dtype: 'F16', shape: [1, 1], data: C },
});
const shard1 = () => writeSafetensors({ 'enc.a': { dtype: 'F32', shape: [2, 3], data: A } });
const shard2 = () => writeSafetensors({
  'enc.b': { dtype: 'BF16', shape: [2], data: B },
  'enc.c': { dtype: 'F16', shape: [1, 1], data: C },
});
const index = (map: Record<string, string>) => JSON.stringify({ metadata: { total_size: 0 }, weight_map: map });
const goodIndex = index({ 'enc.a': 'model-00001-of-00002.safetensors', 'enc.b': 'model-00002-of-00002.safetensors', 'enc.c': 'model-00002-of-00002.safetensors' });

let tmp: { dir: string; cleanup: () => Promise<void> };
const dir = (name: string) => join(tmp.dir, name);

beforeAll(async () => {
  tmp = await makeTempDir();
  await writeFiles(dir('single'), { 'config.json': '{"hidden_size": 8}', 'model.safetensors': single() });
  await writeFiles(dir('sharded'), {
    'config.json': '{"hidden_size": 8}',
    'model.safetensors.index.json': goodIndex,
    'model-00001-of-00002.safetensors': shard1(),
    'model-00002-of-00002.safetensors': shard2(),
  });
});
afterAll(async () => tmp.cleanup());

async function expectValues(spec: Parameters<typeof openCheckpoint>[0], opts: Parameters<typeof openCheckpoint>[1] = {}) {
  const ckpt = await openCheckpoint(spec, opts);
  try {
    expect(ckpt.config).toEqual({ hidden_size: 8 });
    expect([...ckpt.tensors.keys()].sort()).toEqual(['enc.a', 'enc.b', 'enc.c']);
    expect(ckpt.info('enc.a')).toMatchObject({ dtype: 'F32', shape: [2, 3] });
    expect([...await ckpt.readFloat32('enc.a')]).toEqual(A);
    expect([...await ckpt.readFloat32('enc.b')]).toEqual(B);
    expect([...await ckpt.readFloat32('enc.c')]).toEqual(C);
    return ckpt;
  } finally {
    await ckpt.close();
  }
}

describe('local folder', () => {
  it('single model.safetensors', async () => {
    const ckpt = await expectValues(dir('single'));
    expect(ckpt.files).toEqual(['model.safetensors']);
    expect(ckpt.configFile).toBe(`${dir('single')}/config.json`);
  });

  it('sharded: index + shards', async () => {
    const ckpt = await expectValues(dir('sharded'));
    expect(ckpt.files.sort()).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(ckpt.info('enc.b').file).toBe(`${dir('sharded')}/model-00002-of-00002.safetensors`);
  });

  it('reports opening progress per shard, monotone up to the total', async () => {
    const seen: LoadProgress[] = [];
    await (await openCheckpoint(dir('sharded'), { onProgress: (p) => seen.push(p) })).close();
    expect(seen.map((p) => (p.stage === 'open' ? [p.filesDone, p.filesTotal] : null))).toEqual([[1, 2], [2, 2]]);
  });

  it('no config.json is allowed (config null)', async () => {
    await writeFiles(dir('noconfig'), { 'model.safetensors': single() });
    const ckpt = await openCheckpoint(dir('noconfig'));
    expect(ckpt.config).toBeNull();
    await ckpt.close();
  });

  const bad: [string, Record<string, Uint8Array | string>, RegExp][] = [
    ['no weights at all', { 'config.json': '{}' }, /: no model\.safetensors or model\.safetensors\.index\.json$/],
    ['only PyTorch weights', { 'pytorch_model.bin': 'x' }, /only PyTorch \.bin weights: convert them to safetensors/],
    ['config.json not JSON', { 'config.json': '{hidden', 'model.safetensors': single() }, /config\.json: not valid JSON/],
    ['index not JSON', { 'model.safetensors.index.json': '{' }, /model\.safetensors\.index\.json: not valid JSON/],
    ['index without weight_map', { 'model.safetensors.index.json': '{"metadata": {}}' }, /model\.safetensors\.index\.json: no "weight_map" object/],
    ['shard path escapes the folder', { 'model.safetensors.index.json': index({ w: '../secret.safetensors' }) },
      /model\.safetensors\.index\.json: tensor 'w': shard name '\.\.\/secret\.safetensors' is not a plain relative file name/],
    ['shard is a URL', { 'model.safetensors.index.json': index({ w: 'https://evil.example/x.safetensors' }) }, /tensor 'w': shard name .* is not a plain relative file name/],
    ['shard listed but missing', { 'model.safetensors.index.json': index({ 'enc.a': 'model-00001-of-00002.safetensors', 'enc.z': 'gone.safetensors' }), 'model-00001-of-00002.safetensors': shard1() },
      /gone\.safetensors: no such file \(listed in model\.safetensors\.index\.json\)/],
    ['tensor listed but not in its shard', { 'model.safetensors.index.json': index({ 'enc.a': 's.safetensors', 'enc.q': 's.safetensors' }), 's.safetensors': shard1() },
      /s\.safetensors: tensor 'enc\.q': listed in model\.safetensors\.index\.json but not in this shard's header/],
    ['tensor in a shard but not in the index', { 'model.safetensors.index.json': index({ 'enc.b': 's.safetensors' }), 's.safetensors': shard2() },
      /s\.safetensors: tensor 'enc\.c': not listed in model\.safetensors\.index\.json/],
    ['corrupt shard header', { 'model.safetensors.index.json': index({ 'enc.a': 's.safetensors' }), 's.safetensors': shard1().subarray(0, 30) },
      /s\.safetensors: header length \d+ runs past the end/],
  ];
  for (const [what, files, message] of bad) {
    it(`error: ${what}`, async () => {
      const d = dir(`bad-${what.replace(/\W+/g, '-')}`);
      await writeFiles(d, files);
      await expect(openCheckpoint(d)).rejects.toThrow(message);
    });
  }
});

describe('chat checkpoints: language_model.* is never read', () => {
  it('single file: only the header is read; the LLM tensors are listed as skipped', async () => {
    const d = dir('chat-single');
    await writeFiles(d, {
      'model.safetensors': writeSafetensors({
        'language_model.model.embed_tokens.weight': { dtype: 'BF16', shape: [64, 8], data: new Array(512).fill(1) },
        'mlp1.0.weight': { dtype: 'F32', shape: [2], data: [1, 2] },
        'vision_model.embeddings.class_embedding': { dtype: 'F32', shape: [1, 1, 2], data: [3, 4] },
      }),
    });
    const store = countingStore(folderStore(d));
    const ckpt = await openCheckpoint(store);
    expect([...ckpt.tensors.keys()]).toEqual(['mlp1.0.weight', 'vision_model.embeddings.class_embedding']);
    expect(ckpt.skipped).toEqual(['language_model.model.embed_tokens.weight']);
    expect(store.reads.map((r) => r.offset)).toEqual([0, 8]); // the length, then the JSON header
    expect([...await ckpt.readFloat32('vision_model.embeddings.class_embedding')]).toEqual([3, 4]);
    expect(store.reads.length).toBe(3);
    await expect(ckpt.read('language_model.model.embed_tokens.weight')).rejects.toThrow(/no tensor 'language_model\.model\.embed_tokens\.weight'/);
    await ckpt.close();
  });

  it('sharded: a shard holding only LLM tensors is never opened', async () => {
    const d = dir('chat-sharded');
    await writeFiles(d, {
      'model.safetensors.index.json': index({
        'vision_model.embeddings.class_embedding': 'model-00001-of-00002.safetensors',
        'mlp1.0.weight': 'model-00001-of-00002.safetensors',
        'language_model.lm_head.weight': 'model-00002-of-00002.safetensors',
      }),
      'model-00001-of-00002.safetensors': writeSafetensors({
        'vision_model.embeddings.class_embedding': { dtype: 'F32', shape: [1, 1, 2], data: [3, 4] },
        'mlp1.0.weight': { dtype: 'F32', shape: [2], data: [1, 2] },
      }),
      'model-00002-of-00002.safetensors': writeSafetensors({ 'language_model.lm_head.weight': { dtype: 'F32', shape: [4], data: [9, 9, 9, 9] } }),
    });
    const store = countingStore(folderStore(d));
    const ckpt = await openCheckpoint(store);
    expect(ckpt.files).toEqual(['model-00001-of-00002.safetensors']);
    expect(ckpt.skipped).toEqual(['language_model.lm_head.weight']);
    expect(store.opened.has('model-00002-of-00002.safetensors')).toBe(false);
    expect(store.reads.every((r) => r.file === 'model-00001-of-00002.safetensors')).toBe(true);
    await ckpt.close();
    // skipPrefixes: [] opens everything.
    const all = await openCheckpoint(d, { skipPrefixes: [] });
    expect([...await all.readFloat32('language_model.lm_head.weight')]).toEqual([9, 9, 9, 9]);
    await all.close();
  });
});

describe('over HTTP', () => {
  let server: TestServer;
  let noRange: TestServer;
  let hub: TestServer;
  beforeAll(async () => {
    server = await serveFolder(tmp.dir);
    noRange = await serveFolder(tmp.dir, { range: false });
    hub = await serveFolder(dir('sharded'), { hubId: 'OpenGVLab/Tiny-ViT' });
  });
  afterAll(async () => {
    await server.close();
    await noRange.close();
    await hub.close();
  });

  it('URL prefix: Range requests only, never a whole weights file', async () => {
    server.requests.length = 0;
    const ckpt = await expectValues(`${server.url}/single/`);
    expect(ckpt.location).toBe(`${server.url}/single/`);
    const weightGets = server.requests.filter((r) => r.method === 'GET' && r.path.endsWith('.safetensors'));
    expect(weightGets.length).toBeGreaterThan(0);
    expect(weightGets.every((r) => r.range !== null)).toBe(true);
    // Header length, header, then one range per tensor.
    expect(weightGets.length).toBe(2 + 3);
  });

  it('URL prefix without a trailing slash, sharded', async () => {
    await expectValues(`${server.url}/sharded`);
  });

  it('server that ignores Range still reads correctly', async () => {
    await expectValues(`${noRange.url}/sharded/`);
  });

  it('hub id resolves to {hubUrl}/{id}/resolve/main/{file}, following redirects', async () => {
    hub.requests.length = 0;
    const ckpt = await expectValues('OpenGVLab/Tiny-ViT', { hubUrl: hub.url });
    expect(ckpt.location).toBe(`OpenGVLab/Tiny-ViT (${hub.url}/OpenGVLab/Tiny-ViT/resolve/main/)`);
    expect(hub.requests.some((r) => r.path === '/OpenGVLab/Tiny-ViT/resolve/main/model.safetensors.index.json')).toBe(true);
    expect(hub.requests.some((r) => r.path.startsWith('/cdn/') && r.range !== null)).toBe(true);
    await expectValues('hf://OpenGVLab/Tiny-ViT', { hubUrl: `${hub.url}/` });
  });

  it('unknown hub repo / missing URL folder: clear errors', async () => {
    await expect(openCheckpoint('OpenGVLab/Nope', { hubUrl: hub.url })).rejects.toThrow(/OpenGVLab\/Nope.*no model\.safetensors or model\.safetensors\.index\.json/);
    await expect(openCheckpoint(`${server.url}/nothing-here/`)).rejects.toThrow(`${server.url}/nothing-here/: no model.safetensors`);
  });

  it('truncated file over HTTP: the header check names the file and tensor', async () => {
    const bytes = single();
    await writeFiles(dir('truncated'), { 'model.safetensors': bytes.subarray(0, bytes.byteLength - 1) });
    await expect(openCheckpoint(`${server.url}/truncated/`)).rejects.toThrow(/truncated\/model\.safetensors: tensor 'enc\.c': data_offsets .* file truncated/);
  });
});

describe('resolving a string', () => {
  it('an existing local folder wins over a hub id of the same spelling', async () => {
    await writeFiles(join(tmp.dir, 'OpenGVLab', 'Tiny-ViT'), { 'model.safetensors': single() });
    const cwd = process.cwd();
    process.chdir(tmp.dir);
    try {
      const store = await resolveStore('OpenGVLab/Tiny-ViT', { hubUrl: 'http://127.0.0.1:9' });
      expect(store.location).toBe('OpenGVLab/Tiny-ViT');
      const hubbed = await resolveStore('OpenGVLab/Other', { hubUrl: 'http://127.0.0.1:9' });
      expect(hubbed.location).toBe('OpenGVLab/Other (http://127.0.0.1:9/OpenGVLab/Other/resolve/main/)');
    } finally {
      process.chdir(cwd);
    }
  });

  it('a path that is neither a folder nor a hub id is an error; a file is an error', async () => {
    await expect(resolveStore(join(tmp.dir, 'missing', 'deeper'))).rejects.toThrow(/no such folder, and not a URL or a Hugging Face model id/);
    await expect(resolveStore(join(tmp.dir, 'single', 'model.safetensors'))).rejects.toThrow(/is a file: give the folder/);
  });

  it('memory and Blob stores', async () => {
    await mkdir(dir('unused'), { recursive: true });
    await expectValues(memoryStore({ 'config.json': new TextEncoder().encode('{"hidden_size": 8}'), 'model.safetensors': single() }));
    await expectValues(memoryStore({ 'config.json': new Blob(['{"hidden_size": 8}']), 'model.safetensors': new Blob([single()]) }));
    const missing = memoryStore({}).open('x.safetensors');
    await expect(missing.size()).rejects.toBeInstanceOf(FileNotFoundError);
  });
});
