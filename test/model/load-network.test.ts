// InternViT.load over HTTP on a real device (Node, Dawn): a server without Range support is read
// once; progress says which bytes came from the cache and which from the network, and a cached second
// load sends no request and uploads the same weights; an abort rejects with an AbortError and frees
// every GPU buffer the load made.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { InternViT } from '../../src/api.js';
import { parseConfig } from '../../src/model/config.js';
import { expectedTensors } from '../../src/model/weights.js';
import type { WeightsProgress, LoadProgress } from '../../src/runtime/loader.js';
import { writeSafetensors, type WriteTensor } from '../../src/runtime/safetensors.js';
import { readTensor } from '../../src/runtime/tensor.js';
import { useGpu } from '../node-gpu.js';
import { FakeCacheStorage } from '../runtime/fake-cache-storage.js';
import { makeTempDir, randomTensor, seeded, serveFolder, tinyConfigJson, writeFiles, type TestServer } from '../runtime/checkpoint-helpers.js';

const gpu = useGpu();
const CONFIG = tinyConfigJson();
const rand = seeded(3);
const tensors: Record<string, WriteTensor> = {};
for (const e of expectedTensors(parseConfig(CONFIG).vision)) tensors[e.name] = randomTensor(e.shape, e.linear ? 'BF16' : 'F32', rand);

let tmp: { dir: string; cleanup: () => Promise<void> };
let server: TestServer;
let noRange: TestServer;

beforeAll(async () => {
  tmp = await makeTempDir();
  await writeFiles(join(tmp.dir, 'tiny'), { 'config.json': JSON.stringify(CONFIG), 'model.safetensors': writeSafetensors(tensors) });
  server = await serveFolder(tmp.dir);
  noRange = await serveFolder(tmp.dir, { range: false });
});
afterAll(async () => {
  await server.close();
  await noRange.close();
  await tmp.cleanup();
});

const weightGets = (s: TestServer) => s.requests.filter((r) => r.method === 'GET' && r.path.endsWith('.safetensors'));
const lastWeights = (ps: LoadProgress[]) => ps.filter((p): p is WeightsProgress => p.stage === 'weights').at(-1)!;

async function weightsOf(model: InternViT): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [k, t] of model['parts'].encoder.weights) out.set(k, [...await readTensor(gpu(), t)]);
  return out;
}

describe('InternViT.load over HTTP', () => {
  it('a server that ignores Range: the weights file is requested once', async () => {
    noRange.requests.length = 0;
    const model = await InternViT.load(`${noRange.url}/tiny/`, { gpu: gpu() });
    model.dispose();
    expect(weightGets(noRange).length).toBe(1);
  });

  it('with a cache: progress counts network bytes, then cache bytes; the second load sends no request, same weights', async () => {
    const cs = new FakeCacheStorage().asCacheStorage;
    const first: LoadProgress[] = [];
    const a = await InternViT.load(`${server.url}/tiny/`, { gpu: gpu(), cache: cs, onProgress: (p) => first.push(p) });
    const end1 = lastWeights(first);
    expect(end1.bytesDone).toBe(end1.bytesTotal);
    expect([end1.bytesFromNetwork, end1.bytesFromCache]).toEqual([end1.bytesTotal, 0]);

    server.requests.length = 0;
    const second: LoadProgress[] = [];
    const b = await InternViT.load(`${server.url}/tiny/`, { gpu: gpu(), cache: cs, onProgress: (p) => second.push(p) });
    const end2 = lastWeights(second);
    expect([end2.bytesFromNetwork, end2.bytesFromCache]).toEqual([0, end2.bytesTotal]);
    expect(server.requests).toEqual([]);
    expect(await weightsOf(b)).toEqual(await weightsOf(a));
    a.dispose();
    b.dispose();
  });

  it('abort after the weights are read: AbortError, every buffer the load made is freed, nothing cached', async () => {
    const cs = new FakeCacheStorage();
    const live = gpu().counters.bytesLive;
    const controller = new AbortController();
    const e = await InternViT.load(`${server.url}/tiny/`, {
      gpu: gpu(), cache: cs.asCacheStorage, signal: controller.signal,
      onProgress: (p) => { if (p.stage === 'weights' && p.bytesDone === p.bytesTotal) controller.abort(); },
    }).then(() => null, (err: unknown) => err);
    expect((e as Error)?.name).toBe('AbortError');
    expect(gpu().counters.bytesLive).toBe(live);
    expect(cs.usedBytes()).toBe(0);
  });

  it('abort before anything: rejects at once, no request, no buffer', async () => {
    server.requests.length = 0;
    const live = gpu().counters.bytesLive;
    const spy = vi.fn();
    await expect(InternViT.load(`${server.url}/tiny/`, { gpu: gpu(), signal: AbortSignal.abort(), onProgress: spy })).rejects.toMatchObject({ name: 'AbortError' });
    expect(server.requests).toEqual([]);
    expect(spy).not.toHaveBeenCalled();
    expect(gpu().counters.bytesLive).toBe(live);
  });
});
