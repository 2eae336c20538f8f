// Pre-quantized checkpoints (`internvit quantize`, src/model/quantize-checkpoint.ts): quantize →
// save → load gives the same GPU weights and bit-identical outputs as quantizing at load, and a
// mismatched or corrupt file is refused with an error naming the file, the tensor and expected vs got.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InternViT } from '../../src/api.js';
import { parseConfig } from '../../src/model/config.js';
import { disposeEncoder, encode, loadEncoder } from '../../src/model/internvit.js';
import { disposeInternVlVision, imageTokens, loadInternVlVision } from '../../src/model/internvl.js';
import { writeQuantizedCheckpoint } from '../../src/model/quantize-checkpoint.js';
import { quantOf, SCALE_SUFFIX } from '../../src/model/quantized.js';
import { weightBytes } from '../../src/model/weights.js';
import { openCheckpoint } from '../../src/runtime/loader.js';
import type { QuantScheme } from '../../src/runtime/quant.js';
import { parseSafetensors, readSafetensorsFloat32, writeSafetensors, type WriteTensor } from '../../src/runtime/safetensors.js';
import { readTensor } from '../../src/runtime/tensor.js';
import { useGpu } from '../node-gpu.js';
import { makeTempDir, writeFiles } from '../runtime/checkpoint-helpers.js';
import { FIXTURE_ROOTS } from './parity-core.js';

const MODEL = join(FIXTURE_ROOTS.model, 'rmsnorm-qknorm-bf16');
const CHAT = join(FIXTURE_ROOTS.internvl, 'v2-bf16');

/** Quantizes `src` into `dir` (model.safetensors + config.json), as `internvit quantize` does. */
async function quantizeTo(src: string, dir: string, scheme: QuantScheme, groupSize?: number): Promise<void> {
  const ckpt = await openCheckpoint(src);
  try {
    const parts: Uint8Array[] = [];
    const r = await writeQuantizedCheckpoint(ckpt, parseConfig(ckpt.config, ckpt.configFile), { scheme, ...(groupSize ? { groupSize } : {}), chunkBytes: 1024 }, async (b) => {
      parts.push(b.slice());
    });
    await writeFiles(dir, { 'model.safetensors': Buffer.concat(parts), 'config.json': JSON.stringify(r.config) });
  } finally {
    await ckpt.close();
  }
}

async function pixelsOf(dir: string) {
  return readSafetensorsFloat32(await readFile(join(dir, 'pixels.safetensors'))).get('pixel_values')!;
}

const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe('quantize → save → load equals quantize-at-load, bit for bit', () => {
  const gpu = useGpu();
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => { tmp = await makeTempDir(); });
  afterAll(async () => { await tmp.cleanup(); });

  for (const scheme of ['int8', 'int4'] as QuantScheme[]) {
    it(`${scheme}: InternViT (BF16 source), same GPU weights and outputs; the file is smaller`, async () => {
      const dir = join(tmp.dir, `model-${scheme}`);
      await quantizeTo(MODEL, dir, scheme);
      const px = await pixelsOf(MODEL);
      const atLoad = await loadEncoder(gpu(), MODEL, { weightStorage: scheme });
      const saved = await loadEncoder(gpu(), dir); // 'auto': as the file says
      try {
        const name = 'encoder.layers.0.mlp.fc1.weight';
        expect(quantOf(saved.encoder.weights.get(name))?.scheme).toBe(scheme);
        for (const key of [name, name + SCALE_SUFFIX, 'encoder.layers.1.attn.qkv.weight']) {
          expect([...(await readTensor(gpu(), saved.encoder.weights.get(key)!))], key).toEqual([...(await readTensor(gpu(), atLoad.encoder.weights.get(key)!))]);
        }
        const a = await encode(atLoad.encoder, px.data, px.shape, { hiddenStates: true });
        const b = await encode(saved.encoder, px.data, px.shape, { hiddenStates: true });
        expect(bitsOf(b.lastHiddenState.data)).toEqual(bitsOf(a.lastHiddenState.data));
        expect(bitsOf(b.poolerOutput.data)).toEqual(bitsOf(a.poolerOutput.data));
        const fileBytes = (await readFile(join(dir, 'model.safetensors'))).byteLength;
        const srcBytes = (await readFile(join(MODEL, 'model.safetensors'))).byteLength;
        expect(fileBytes).toBeLessThan(srcBytes);
      } finally {
        disposeEncoder(atLoad.encoder);
        disposeEncoder(saved.encoder);
      }
    }, 600_000);
  }

  it('int4 group 64 (not the default): InternVL (projector quantized too), same image tokens', async () => {
    const dir = join(tmp.dir, 'chat-int4');
    await quantizeTo(CHAT, dir, 'int4', 64);
    const px = await pixelsOf(CHAT);
    const atLoad = await loadInternVlVision(gpu(), CHAT, { weightStorage: 'int4', quantGroupSize: 64 });
    const saved = await loadInternVlVision(gpu(), dir, { weightStorage: 'int4' });
    try {
      expect(quantOf(saved.model.encoder.weights.get('mlp1.1.weight'))?.groupSize).toBe(64);
      const a = await imageTokens(atLoad.model, px.data, px.shape);
      const b = await imageTokens(saved.model, px.data, px.shape);
      expect(bitsOf(b.data)).toEqual(bitsOf(a.data));
    } finally {
      disposeInternVlVision(atLoad.model);
      disposeInternVlVision(saved.model);
    }
  }, 600_000);

  it("precision 'f16' without a weightStorage loads a pre-quantized checkpoint as it is (not as f16)", async (ctx) => {
    if (!gpu().features.shaderF16) ctx.skip("no 'shader-f16' on this adapter");
    const dir = join(tmp.dir, 'f16-int8');
    await quantizeTo(MODEL, dir, 'int8');
    const { encoder } = await loadEncoder(gpu(), dir, { precision: 'f16' });
    try {
      expect(encoder.precision).toBe('f16');
      expect(quantOf(encoder.weights.get('encoder.layers.0.attn.qkv.weight'))?.scheme).toBe('int8');
    } finally {
      disposeEncoder(encoder);
    }
  });

  it('describe() names the storage and lists the bytes of every storage', async () => {
    const model = await InternViT.load(MODEL, { gpu: gpu(), weightStorage: 'int4' });
    try {
      const d = model.describe();
      expect(d).toMatch(/weights on the GPU: [\d.]+ MB \(8 linear weights in int4 \(group 32\) with f32 scales, the rest f32\)/);
      expect(d).toMatch(/weights on the GPU by storage \(weightStorage\): f32 [\d.]+ MB, bf16 [\d.]+ MB, int8 [\d.]+ MB, int4 [\d.]+ MB/);
    } finally {
      model.dispose();
    }
  });

  it('GPU bytes of the loaded weights are what weightBytes() computes from the config', async () => {
    const ckpt = await openCheckpoint(MODEL);
    const config = parseConfig(ckpt.config, ckpt.configFile);
    await ckpt.close();
    for (const scheme of ['int8', 'int4'] as QuantScheme[]) {
      const { encoder } = await loadEncoder(gpu(), MODEL, { weightStorage: scheme });
      const total = [...encoder.weights.values()].reduce((s, t) => s + t.byteLength, 0);
      disposeEncoder(encoder);
      expect(total, scheme).toBe(weightBytes(config.vision, scheme));
    }
    expect(weightBytes(config.vision, 'int4')).toBeLessThan(weightBytes(config.vision, 'int8'));
    expect(weightBytes(config.vision, 'int8')).toBeLessThan(weightBytes(config.vision, 'bf16'));
  });
});

describe('a pre-quantized checkpoint that does not match its config is refused by name', () => {
  const gpu = useGpu();
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let good: string;
  let tensors: Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>;
  let config: Record<string, unknown>;
  beforeAll(async () => {
    tmp = await makeTempDir();
    good = join(tmp.dir, 'good');
    await quantizeTo(MODEL, good, 'int4');
    const parsed = parseSafetensors(await readFile(join(good, 'model.safetensors')));
    tensors = new Map([...parsed.tensors].map(([k, t]) => [k, { dtype: t.info.dtype, shape: t.info.shape, bytes: t.bytes }]));
    config = JSON.parse(await readFile(join(good, 'config.json'), 'utf8'));
  });
  afterAll(async () => { await tmp.cleanup(); });

  /** A copy of the good checkpoint with `edit` applied to its tensors and `cfg` to its config. */
  async function variant(name: string, edit: (t: Map<string, WriteTensor>) => void, cfg: (c: Record<string, unknown>) => void = () => {}): Promise<string> {
    const t = new Map<string, WriteTensor>([...tensors].map(([k, v]) => [k, { dtype: v.dtype as WriteTensor['dtype'], shape: v.shape, data: new Uint8Array(v.bytes) }]));
    edit(t);
    const c = structuredClone(config);
    cfg(c);
    const dir = join(tmp.dir, name);
    await writeFiles(dir, { 'model.safetensors': writeSafetensors(Object.fromEntries(t)), 'config.json': JSON.stringify(c) });
    return dir;
  }
  const W = 'encoder.layers.0.attn.proj.weight';

  it('a float storage asked of a quantized checkpoint', async () => {
    await expect(loadEncoder(gpu(), good, { weightStorage: 'bf16' })).rejects.toThrow(/pre-quantized int4.*weightStorage 'int4' or 'auto', not 'bf16'/);
    await expect(loadEncoder(gpu(), good, { weightStorage: 'int8' })).rejects.toThrow(/pre-quantized int4/);
  });
  it('a group size the config does not allow, another method, int8 with a group', async () => {
    const qc = (f: (q: Record<string, unknown>) => void) => (c: Record<string, unknown>) => f(c.quantization_config as Record<string, unknown>);
    const g48 = await variant('g48', () => {}, qc((q) => { q.group_size = 48; }));
    await expect(loadEncoder(gpu(), g48)).rejects.toThrow(/config\.json: quantization_config has group_size 48 for int4, expected one of 32, 64, 128/);
    const gptq = await variant('gptq', () => {}, qc((q) => { q.quant_method = 'gptq'; }));
    await expect(loadEncoder(gpu(), gptq)).rejects.toThrow(/quant_method "gptq"/);
  });
  it('the config says group 64 but the scales have the shape of group 32', async () => {
    const dir = await variant('g64', () => {}, (c) => { (c.quantization_config as Record<string, unknown>).group_size = 64; });
    await expect(loadEncoder(gpu(), dir)).rejects.toThrow(new RegExp(`'${W}_scale' in .*model\\.safetensors has shape \\[48, 2, 2\\], expected \\[48, 1, 2\\]`));
  });
  it('a packed weight stored as floats, a missing scale tensor', async () => {
    const f32 = await variant('f32w', (t) => {
      const w = t.get(W)!;
      t.set(W, { dtype: 'F32', shape: w.shape, data: new Float32Array(w.shape[0]! * w.shape[1]!) });
    });
    await expect(loadEncoder(gpu(), f32)).rejects.toThrow(new RegExp(`'${W}' in .*model\\.safetensors is F32, expected U8`));
    const noScale = await variant('noscale', (t) => { t.delete(W + SCALE_SUFFIX); });
    await expect(loadEncoder(gpu(), noScale)).rejects.toThrow(new RegExp(`missing '${W}_scale'`));
  });
  it('corrupt values: a negative or NaN scale, an infinite offset, an int8 -128 (never written)', async () => {
    const setScale = (i: number, x: number) => (t: Map<string, WriteTensor>) => {
      const s = t.get(W + SCALE_SUFFIX)!;
      const v = new Float32Array(new Uint8Array(s.data as Uint8Array).buffer); // a copy (Buffer.slice is a view)
      v[i] = x;
      t.set(W + SCALE_SUFFIX, { ...s, data: new Uint8Array(v.buffer) });
    };
    // int4 scales are (scale, offset) pairs: element 2 is a scale, 3 an offset.
    await expect(loadEncoder(gpu(), await variant('nan', setScale(2, NaN)))).rejects.toThrow(new RegExp(`tensor '${W}_scale': scale 2 is NaN`));
    await expect(loadEncoder(gpu(), await variant('neg', setScale(4, -1)))).rejects.toThrow(new RegExp(`tensor '${W}_scale': scale 4 is -1`));
    await expect(loadEncoder(gpu(), await variant('inf', setScale(3, Infinity)))).rejects.toThrow(new RegExp(`tensor '${W}_scale': offset 3 is Infinity`));
    const int8 = join(tmp.dir, 'int8');
    await quantizeTo(MODEL, int8, 'int8');
    const parsed = parseSafetensors(await readFile(join(int8, 'model.safetensors')));
    const t = Object.fromEntries([...parsed.tensors].map(([k, v]) => [k, { dtype: v.info.dtype, shape: v.info.shape, data: new Uint8Array(v.bytes) } as WriteTensor]));
    (t[W]!.data as Uint8Array)[5] = 0x80;
    await writeFiles(int8, { 'model.safetensors': writeSafetensors(t) });
    await expect(loadEncoder(gpu(), int8)).rejects.toThrow(new RegExp(`tensor '${W}' rows 0\\.\\.: row 0 byte 5 is 0x80`));
  });
  it('quantizing a quantized checkpoint is refused', async () => {
    const ckpt = await openCheckpoint(good);
    try {
      await expect(writeQuantizedCheckpoint(ckpt, parseConfig(ckpt.config, ckpt.configFile), { scheme: 'int8' }, async () => {})).rejects.toThrow(/already quantized/);
    } finally {
      await ckpt.close();
    }
  });
});
