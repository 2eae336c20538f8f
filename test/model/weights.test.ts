// Tensor names/shapes from a config, checkpoint validation before anything runs, and the streaming
// upload to the GPU (values exact, bounded reads, monotone progress, LLM tensors never read, no leaks).
// The last block opens every reference fixture under test/fixtures/model/ when there are any.
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type ModelConfig } from '../../src/model/config.js';
import {
  disposeWeights, expectedTensors, linearWeightDType, loadWeights, uploadWeights, validateCheckpoint, WeightsError,
  type WeightStorage,
} from '../../src/model/weights.js';
import { toHalfBits, type FloatDType, type SafetensorsDType } from '../../src/runtime/dtype.js';
import { folderStore, openCheckpoint, type CheckpointStore, type WeightsProgress } from '../../src/runtime/loader.js';
import { parseSafetensors, writeSafetensors, type TensorInfo, type WriteTensor } from '../../src/runtime/safetensors.js';
import { readTensor } from '../../src/runtime/tensor.js';
import { useGpu } from '../node-gpu.js';
import {
  countingStore, makeTempDir, randomTensor, seeded, tinyChatConfigJson, tinyConfigJson, writeFiles,
} from '../runtime/checkpoint-helpers.js';

const TINY = parseConfig(tinyConfigJson());
const TINY_RMS = parseConfig(tinyConfigJson({ norm_type: 'rms_norm', qk_normalization: true, qkv_bias: false }));
const CHAT = parseConfig(tinyChatConfigJson());

describe('expectedTensors', () => {
  it('layer_norm + qkv bias (the 300M kind): names and shapes', () => {
    const t = expectedTensors(TINY.vision);
    expect(t.length).toBe(4 + 2 * 14);
    expect(t.slice(0, 4 + 14)).toEqual([
      { name: 'embeddings.class_embedding', shape: [1, 1, 8] },
      { name: 'embeddings.patch_embedding.weight', shape: [8, 3, 14, 14] },
      { name: 'embeddings.patch_embedding.bias', shape: [8] },
      { name: 'embeddings.position_embedding', shape: [1, 5, 8] },
      { name: 'encoder.layers.0.norm1.weight', shape: [8] },
      { name: 'encoder.layers.0.norm1.bias', shape: [8] },
      { name: 'encoder.layers.0.attn.qkv.weight', shape: [24, 8], linear: true },
      { name: 'encoder.layers.0.attn.qkv.bias', shape: [24] },
      { name: 'encoder.layers.0.attn.proj.weight', shape: [8, 8], linear: true },
      { name: 'encoder.layers.0.attn.proj.bias', shape: [8] },
      { name: 'encoder.layers.0.ls1', shape: [8] },
      { name: 'encoder.layers.0.norm2.weight', shape: [8] },
      { name: 'encoder.layers.0.norm2.bias', shape: [8] },
      { name: 'encoder.layers.0.mlp.fc1.weight', shape: [16, 8], linear: true },
      { name: 'encoder.layers.0.mlp.fc1.bias', shape: [16] },
      { name: 'encoder.layers.0.mlp.fc2.weight', shape: [8, 16], linear: true },
      { name: 'encoder.layers.0.mlp.fc2.bias', shape: [8] },
      { name: 'encoder.layers.0.ls2', shape: [8] },
    ]);
    expect(t[t.length - 1]!.name).toBe('encoder.layers.1.ls2');
  });

  it('rms_norm + qk normalization, no qkv bias (the 6B kind)', () => {
    const layer1 = expectedTensors(TINY_RMS.vision).filter((t) => t.name.startsWith('encoder.layers.1.')).map((t) => t.name.slice(17));
    expect(layer1).toEqual([
      'norm1.weight', 'attn.qkv.weight', 'attn.q_norm.weight', 'attn.k_norm.weight', 'attn.proj.weight', 'attn.proj.bias',
      'ls1', 'norm2.weight', 'mlp.fc1.weight', 'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias', 'ls2',
    ]);
  });

  it('chat: vision_model. prefix, and the projector (unprefixed) when asked', () => {
    const t = expectedTensors(CHAT.vision, { prefix: CHAT.prefix, projector: CHAT.chat });
    expect(t[0]!.name).toBe('vision_model.embeddings.class_embedding');
    expect(t.slice(-6)).toEqual([
      { name: 'mlp1.0.weight', shape: [32] },
      { name: 'mlp1.0.bias', shape: [32] },
      { name: 'mlp1.1.weight', shape: [12, 32], linear: true },
      { name: 'mlp1.1.bias', shape: [12] },
      { name: 'mlp1.3.weight', shape: [12, 12], linear: true },
      { name: 'mlp1.3.bias', shape: [12] },
    ]);
  });
});

/** A checkpoint stand-in for validation: just the header facts. */
function fakeCheckpoint(entries: [string, number[], SafetensorsDType?, string?][]) {
  const tensors = new Map<string, TensorInfo>();
  for (const [name, shape, dtype, file] of entries) {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors.set(name, { name, shape, dtype: dtype ?? 'BF16', offset: 0, byteLength: n * 2, file: file ?? 'model.safetensors' });
  }
  return { tensors, location: '/models/tiny' };
}

const complete = (config: ModelConfig, projector = false) =>
  expectedTensors(config.vision, { prefix: config.prefix, projector: projector ? config.chat : null }).map((t) => [t.name, t.shape] as [string, number[]]);

function problemsOf(f: () => unknown): { message: string; kinds: string[] } {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(WeightsError);
    return { message: (e as Error).message, kinds: (e as WeightsError).problems.map((p) => `${p.kind} ${p.name}`) };
  }
  throw new Error('expected a WeightsError');
}

describe('validateCheckpoint', () => {
  it('accepts a complete checkpoint and totals its bytes', () => {
    const v = validateCheckpoint(fakeCheckpoint(complete(TINY)), TINY);
    expect(v.names.length).toBe(32);
    expect(v.prefix).toBe('');
    expect(v.bytesTotal).toBe(expectedTensors(TINY.vision).reduce((a, t) => a + 2 * t.shape.reduce((x, y) => x * y, 1), 0));
  });

  it('reports missing, misshapen, unsupported-dtype and unexpected tensors by name and file, all at once', () => {
    const entries = complete(TINY).filter(([n]) => n !== 'encoder.layers.1.attn.qkv.bias');
    const ckpt = fakeCheckpoint([
      ...entries.map(([n, s]) => [n, n === 'encoder.layers.0.mlp.fc1.weight' ? [8, 16] : s, n === 'encoder.layers.0.ls1' ? 'I64' : 'BF16', 'model-00002.safetensors'] as [string, number[], SafetensorsDType, string]),
      ['encoder.layers.2.ls1', [8], 'BF16', 'model-00003.safetensors'],
    ]);
    const { message, kinds } = problemsOf(() => validateCheckpoint(ckpt, TINY));
    expect(kinds).toEqual([
      'dtype encoder.layers.0.ls1',
      'misshapen encoder.layers.0.mlp.fc1.weight',
      'missing encoder.layers.1.attn.qkv.bias',
      'unexpected encoder.layers.2.ls1',
    ]);
    expect(message).toContain('/models/tiny: the weights do not match the config: 1 missing, 1 misshapen, 1 with an unsupported dtype, 1 unexpected');
    expect(message).toContain("'encoder.layers.0.ls1' in model-00002.safetensors is I64; only F32, F16 and BF16 are supported");
    expect(message).toContain("'encoder.layers.0.mlp.fc1.weight' in model-00002.safetensors has shape [8, 16], expected [16, 8]");
    expect(message).toContain("missing 'encoder.layers.1.attn.qkv.bias' (expected [24])");
    expect(message).toContain("unexpected 'encoder.layers.2.ls1' [8] in model-00003.safetensors");
    expect(validateCheckpoint(fakeCheckpoint([...complete(TINY), ['encoder.layers.2.ls1', [8]]]), TINY, { allowUnexpected: true }).names.length).toBe(32);
  });

  it('lists the first few problems and counts the rest', () => {
    const { message, kinds } = problemsOf(() => validateCheckpoint(fakeCheckpoint([]), TINY));
    expect(kinds.length).toBe(32);
    expect(message.split('\n').filter((l) => l.startsWith('  missing')).length).toBe(8);
    expect(message).toContain('… and 24 more');
  });

  it('chat: language_model.* is ignored; mlp1.* only checked when the projector is asked for', () => {
    const llm: [string, number[]][] = [['language_model.model.embed_tokens.weight', [100, 12]], ['language_model.lm_head.weight', [100, 12]]];
    const projector = complete(CHAT, true).filter(([n]) => n.startsWith('mlp1.'));
    const vision = complete(CHAT);
    expect(validateCheckpoint(fakeCheckpoint([...vision, ...llm, ...projector]), CHAT).names.every((n) => n.startsWith('vision_model.'))).toBe(true);
    expect(validateCheckpoint(fakeCheckpoint([...vision, ...llm, ...projector]), CHAT, { projector: true }).names.slice(-6)).toEqual(CHAT.chat!.projectorKeys);
    // Without the projector requested, mlp1 may be absent; with it, its absence is an error.
    expect(validateCheckpoint(fakeCheckpoint([...vision, ...llm]), CHAT).names.length).toBe(32);
    expect(problemsOf(() => validateCheckpoint(fakeCheckpoint([...vision, ...llm]), CHAT, { projector: true })).kinds).toEqual(CHAT.chat!.projectorKeys.map((k) => `missing ${k}`));
    expect(problemsOf(() => validateCheckpoint(fakeCheckpoint([...vision, ...projector, ['mlp1.5.weight', [2]]]), CHAT, { projector: true })).kinds).toEqual(['unexpected mlp1.5.weight']);
    expect(problemsOf(() => validateCheckpoint(fakeCheckpoint([...vision, ['vision_model.head.weight', [2]]]), CHAT)).kinds).toEqual(['unexpected vision_model.head.weight']);
    expect(() => validateCheckpoint(fakeCheckpoint(complete(TINY)), TINY, { projector: true })).toThrow(/projector was requested but the config is not an InternVL chat config/);
  });

  it('hints at a prefix mismatch (chat weights with a standalone config and vice versa)', () => {
    expect(problemsOf(() => validateCheckpoint(fakeCheckpoint(complete(CHAT)), TINY)).message).toMatch(/prefixed 'vision_model\.': this is an InternVL chat checkpoint/);
    expect(problemsOf(() => validateCheckpoint(fakeCheckpoint(complete(TINY)), CHAT)).message).toMatch(/no 'vision_model\.' prefix: this is a standalone InternViT checkpoint/);
  });
});

/** Exact float32 values of a written tensor, decoded here from the IEEE definitions. */
function decodeByHand(t: WriteTensor): number[] {
  const d = t.data as ArrayLike<number>;
  if (t.dtype === 'F32') return Array.from(d);
  if (t.dtype === 'BF16') return Array.from(new Float32Array(Uint32Array.from(d, (b) => b * 65536).buffer));
  return Array.from(d, (h) => {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 31;
    const m = h & 1023;
    return e === 0 ? s * 2 ** -14 * (m / 1024) : s * 2 ** (e - 15) * (1 + m / 1024);
  });
}

describe('uploadWeights (GPU)', () => {
  const gpu = useGpu();
  let tmp: { dir: string; cleanup: () => Promise<void> };
  const written = new Map<string, WriteTensor>();
  const chatDir = () => join(tmp.dir, 'chat');

  beforeAll(async () => {
    tmp = await makeTempDir();
    const rand = seeded(7);
    const dtypeOf = (name: string): SafetensorsDType =>
      name.endsWith('class_embedding') ? 'F32' : name.includes('patch_embedding') || name.includes('fc2') ? 'F16' : 'BF16';
    const vision = expectedTensors(CHAT.vision, { prefix: CHAT.prefix, projector: CHAT.chat });
    const shard1: Record<string, WriteTensor> = {};
    const shard2: Record<string, WriteTensor> = {};
    // LLM tensors interleaved with vision ones, in both shards, so a sloppy merged read would touch them.
    vision.forEach((t, i) => {
      const w = randomTensor(t.shape, dtypeOf(t.name), rand);
      written.set(t.name, w);
      const shard = i < vision.length / 2 ? shard1 : shard2;
      shard[t.name] = w;
      if (i % 5 === 0) shard[`language_model.model.layers.${i}.weight`] = randomTensor([16, 4], 'BF16', rand);
    });
    const weightMap: Record<string, string> = {};
    for (const n of Object.keys(shard1)) weightMap[n] = 'model-00001-of-00002.safetensors';
    for (const n of Object.keys(shard2)) weightMap[n] = 'model-00002-of-00002.safetensors';
    await writeFiles(chatDir(), {
      'config.json': JSON.stringify(tinyChatConfigJson()),
      'model.safetensors.index.json': JSON.stringify({ metadata: {}, weight_map: weightMap }),
      'model-00001-of-00002.safetensors': writeSafetensors(shard1),
      'model-00002-of-00002.safetensors': writeSafetensors(shard2),
    });
  });
  afterAll(async () => tmp?.cleanup());

  it('streams every tensor exactly, reads in bounded chunks, never touches language_model.*', async () => {
    const store = countingStore(folderStore(chatDir()));
    const ckpt = await openCheckpoint(store);
    const config = parseConfig(ckpt.config, ckpt.configFile);
    const v = validateCheckpoint(ckpt, config, { projector: true });
    // LLM byte ranges, from the headers (with skipping off, to see where they are).
    const all = await openCheckpoint(chatDir(), { skipPrefixes: [] });
    const llmRanges = [...all.tensors.values()].filter((t) => t.name.startsWith('language_model.'))
      .map((t) => ({ file: t.file.split('/').pop()!, from: t.offset, to: t.offset + t.byteLength }));
    await all.close();
    expect(llmRanges.length).toBeGreaterThan(0);

    const readsBefore = store.reads.length;
    const progress: WeightsProgress[] = [];
    const live = gpu().counters.bytesLive;
    const chunkBytes = 256;
    const submits = gpu().counters.submits;
    const weights = await uploadWeights(gpu(), ckpt, v.names, { stripPrefix: v.prefix, chunkBytes, drainBytes: 2048, onProgress: (p) => progress.push(p) });
    expect(gpu().counters.submits).toBeGreaterThan(submits); // the queue was drained along the way

    // Values: bit-exact against the written data.
    expect(weights.size).toBe(v.names.length);
    let maxErr = 0;
    for (const name of v.names) {
      const t = weights.get(name.startsWith('vision_model.') ? name.slice('vision_model.'.length) : name)!;
      expect(t, name).toBeDefined();
      expect(t.shape).toEqual(written.get(name)!.shape);
      const got = await readTensor(gpu(), t);
      const want = decodeByHand(written.get(name)!);
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i]! - want[i]!));
    }
    console.log(`uploadWeights: ${v.names.length} tensors, max |gpu − written| = ${maxErr}`);
    expect(maxErr).toBe(0);
    expect([...weights.keys()].slice(0, 2)).toEqual(['embeddings.class_embedding', 'embeddings.patch_embedding.weight']);
    expect(weights.has('mlp1.3.bias')).toBe(true);

    // Reads: bounded, and none overlaps an LLM tensor.
    const reads = store.reads.slice(readsBefore);
    expect(reads.length).toBeGreaterThan(v.names.length / 2); // big tensors split, small adjacent ones merged
    expect(Math.max(...reads.map((r) => r.length))).toBeLessThanOrEqual(chunkBytes);
    for (const r of store.reads) {
      for (const l of llmRanges) {
        const overlaps = r.file === l.file && r.offset < l.to && r.offset + r.length > l.from;
        expect(overlaps, `read ${r.file} [${r.offset}, +${r.length}) touches an LLM tensor`).toBe(false);
      }
    }

    // Progress: starts at 0, never decreases, ends at the total of the tensors' bytes.
    // A local folder: bytes from neither the cache nor the network.
    expect(progress[0]).toEqual({ stage: 'weights', bytesDone: 0, bytesTotal: v.bytesTotal, bytesFromCache: 0, bytesFromNetwork: 0 });
    expect(progress.at(-1)).toMatchObject({ bytesFromCache: 0, bytesFromNetwork: 0 });
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.bytesDone).toBeGreaterThanOrEqual(progress[i - 1]!.bytesDone);
    expect(progress[progress.length - 1]!.bytesDone).toBe(v.bytesTotal);
    expect(progress.every((p) => p.bytesTotal === v.bytesTotal)).toBe(true);

    disposeWeights(gpu(), weights);
    expect(gpu().counters.bytesLive).toBe(live);
    await ckpt.close();
  });

  it('loadWeights: validate + upload with the default chunk, keyed without the prefix', async () => {
    const ckpt = await openCheckpoint(chatDir());
    const weights = await loadWeights(gpu(), ckpt, parseConfig(ckpt.config, ckpt.configFile));
    expect(weights.size).toBe(32);
    expect([...await readTensor(gpu(), weights.get('encoder.layers.1.ls2')!)]).toEqual(decodeByHand(written.get('vision_model.encoder.layers.1.ls2')!));
    disposeWeights(gpu(), weights);
    await ckpt.close();
  });

  // Linear weights 16-bit on the GPU: checkpoint BF16 (qkv, proj, fc1, mlp1) and F16 (fc2), split
  // into 256-byte reads, so pieces of one tensor land at many offsets.
  for (const storage of ['auto', 'bf16', 'f16', 'f32'] as WeightStorage[]) {
    it(`weightStorage '${storage}': linear weights in the expected dtype, exact bits; the rest f32`, async () => {
      const ckpt = await openCheckpoint(chatDir());
      const live = gpu().counters.bytesLive;
      const weights = await loadWeights(gpu(), ckpt, parseConfig(ckpt.config, ckpt.configFile), { projector: true, weightStorage: storage, chunkBytes: 256 });
      const linear = expectedTensors(CHAT.vision, { prefix: CHAT.prefix, projector: CHAT.chat }).filter((t) => t.linear).map((t) => t.name);
      expect(linear.length).toBe(2 * 4 + 2);
      let halfBytes = 0;
      for (const [full, w] of written) {
        const t = weights.get(full.replace(/^vision_model\./, ''))!;
        const src = w.dtype as FloatDType;
        const want = linear.includes(full) ? linearWeightDType(storage, src) : 'f32';
        expect(t.dtype, full).toBe(want);
        const got = await readTensor(gpu(), t);
        if (want === 'f32') {
          expect([...got], full).toEqual(decodeByHand(w));
          continue;
        }
        halfBytes += t.byteLength;
        expect(t.byteLength).toBe(2 * got.length);
        // Same dtype as the file: the file's own bits. Otherwise the hand-decoded value, rounded.
        const sameAsFile = (want === 'bf16' && src === 'BF16') || (want === 'f16' && src === 'F16');
        const bits = sameAsFile ? Array.from(w.data as ArrayLike<number>) : [...toHalfBits(decodeByHand(w), want as 'bf16' | 'f16', full)];
        expect([...got], `${full} (${src} → ${want})`).toEqual(bits);
      }
      if (storage === 'f32') expect(halfBytes).toBe(0);
      else expect(halfBytes).toBeGreaterThan(0);
      disposeWeights(gpu(), weights);
      expect(gpu().counters.bytesLive).toBe(live);
      await ckpt.close();
    });
  }

  it("f16 storage of a weight beyond ±65504: an error naming file, tensor and value; nothing left on the GPU", async () => {
    const d = join(tmp.dir, 'too-big-for-f16');
    const files: Record<string, WriteTensor> = {};
    for (const [name, w] of written) if (!name.startsWith('mlp1.')) files[name] = w;
    const fc1 = 'vision_model.encoder.layers.1.mlp.fc1.weight';
    const big = Uint16Array.from(files[fc1]!.data as ArrayLike<number>); // a Uint16Array is written as raw bits
    big[5] = 0x4789; // bf16 bits of 70144
    files[fc1] = { ...files[fc1]!, dtype: 'BF16', data: big };
    await writeFiles(d, { 'config.json': JSON.stringify(tinyChatConfigJson()), 'model.safetensors': writeSafetensors(files) });
    const ckpt = await openCheckpoint(d);
    const live = gpu().counters.bytesLive;
    await expect(loadWeights(gpu(), ckpt, CHAT, { weightStorage: 'f16', chunkBytes: 256 })).rejects.toThrow(
      /model\.safetensors: tensor 'vision_model\.encoder\.layers\.1\.mlp\.fc1\.weight': value 70144 at element 5 does not fit f16/);
    expect(gpu().counters.bytesLive).toBe(live);
    // The same checkpoint loads as bf16 (its own dtype), exactly.
    const ok = await loadWeights(gpu(), ckpt, CHAT, { weightStorage: 'auto' });
    expect((await readTensor(gpu(), ok.get('encoder.layers.1.mlp.fc1.weight')!))[5]).toBe(0x4789);
    disposeWeights(gpu(), ok);
    await ckpt.close();
  });

  it('an unknown weightStorage is refused before anything is read', async () => {
    const ckpt = await openCheckpoint(chatDir());
    await expect(loadWeights(gpu(), ckpt, CHAT, { weightStorage: 'int3' as WeightStorage })).rejects.toThrow(/weight storage 'int3' is not one of auto, f32, bf16, f16, int8, int4/);
    await ckpt.close();
  });

  it('a read failure midway frees what was uploaded and names the file', async () => {
    const inner = folderStore(chatDir());
    let reads = 0;
    const failing: CheckpointStore = {
      location: inner.location,
      readText: (f) => inner.readText(f),
      open(file) {
        const s = inner.open(file);
        return { name: s.name, size: () => s.size(), read: (o, l) => (++reads > 6 ? Promise.reject(new Error(`${s.name}: connection reset`)) : s.read(o, l)) };
      },
    };
    const ckpt = await openCheckpoint(failing);
    const v = validateCheckpoint(ckpt, CHAT);
    const live = gpu().counters.bytesLive;
    await expect(uploadWeights(gpu(), ckpt, v.names, { chunkBytes: 256 })).rejects.toThrow(/model-0000\d-of-00002\.safetensors: connection reset/);
    expect(gpu().counters.bytesLive).toBe(live);
    await inner.close?.();
  });

  it('refuses a non-float tensor before uploading anything', async () => {
    const d = join(tmp.dir, 'int');
    await writeFiles(d, { 'model.safetensors': writeSafetensors({ ids: { dtype: 'I32', shape: [2], data: [1, 2] } }) });
    const ckpt = await openCheckpoint(d);
    await expect(uploadWeights(gpu(), ckpt, ['ids'])).rejects.toThrow(`${d}/model.safetensors: tensor 'ids': dtype I32 is not supported`);
    await ckpt.close();
  });
});

// Reference fixtures (committed, made by reference/make_fixtures.py): each must open and validate.
const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'model');
const fixtureNames = existsSync(FIXTURES) ? readdirSync(FIXTURES, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name) : [];

describe('reference fixtures', () => {
  it('are present', () => expect(fixtureNames.length, `fixtures under ${FIXTURES}`).toBeGreaterThan(0));
  for (const name of fixtureNames) {
    it(`${name}: opens, parses its config and validates`, async () => {
      const dir = join(FIXTURES, name);
      const ckpt = await openCheckpoint(dir);
      try {
        const config = parseConfig(ckpt.config, ckpt.configFile);
        const v = validateCheckpoint(ckpt, config, { projector: config.chat !== null && ckpt.tensors.has('mlp1.0.weight') });
        expect(v.names.length).toBeGreaterThan(0);
        for (const extra of ['pixels.safetensors', 'expected.safetensors']) {
          const path = join(dir, extra);
          if (!existsSync(path)) continue;
          const { tensors } = parseSafetensors(new Uint8Array(await readFile(path)), path);
          expect(tensors.size, `${path} has tensors`).toBeGreaterThan(0);
        }
      } finally {
        await ckpt.close();
      }
    });
  }
});
