// The model suite's precision rows on internvit-tiny: 'auto' is measured once, as what it resolves
// to; the peer runs once per precision on the matching ONNX file (f16: model-fp16.onnx) and is
// compared with our output of that precision; without shader-f16 the peer's fp16 row says why.
// The peer here is a stand-in that returns the float64 reference output (ONNX Runtime itself runs
// in `npm run bench:node -- --quick`); what is tested is which file it gets and how rows are made.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runModelSuite, type Peer } from '../../bench/lib/model.js';
import { parseOptions, type BenchRecord } from '../../bench/lib/types.js';
import type { Gpu } from '../../src/runtime/device.js';
import { openSafetensors } from '../../src/runtime/safetensors.js';
import { openCheckpoint } from '../../src/runtime/loader.js';
import { skipTest, useGpu } from '../node-gpu.js';

const folder = join(process.cwd(), 'models/internvit-tiny');
const spec = { key: 'tiny', label: 'internvit-tiny', folder, display: 'models/internvit-tiny' };
const opts = { ...parseOptions((k) => (k === 'quick' ? '1' : null), (k) => k === 'quick'), runs: 1, warmup: 0, precisions: ['f32' as const, 'auto' as const] };

async function referenceOutput(): Promise<Float32Array> {
  const ckpt = await openCheckpoint(folder);
  try {
    return await (await openSafetensors(ckpt.store.open('expected.safetensors'))).readFloat32('last_hidden_state');
  } finally {
    await ckpt.close();
  }
}

/** A peer that notes the ONNX file it was given (by size) and answers with the reference output. */
function standIn(want: Float32Array, given: number[]): Peer {
  return {
    runtime: 'onnxruntime-node',
    async create(onnx) {
      given.push(onnx.byteLength);
      return { run: async () => want, release: async () => {} };
    },
  };
}

async function suite(gpu: Gpu): Promise<{ records: BenchRecord[]; given: number[] }> {
  const given: number[] = [];
  const records = await runModelSuite({ gpu, opts, runner: 'node', peer: standIn(await referenceOutput(), given), onRecord: () => {} }, [spec]);
  return { records, given };
}

const size = (file: string) => readFileSync(join(folder, file)).byteLength;
const row = (r: BenchRecord) => [r.runtime, r.dtype, r.precision_asked ?? null, r.error ?? null];

describe('model suite: precision rows and the fp16 peer', () => {
  const gpu = useGpu();

  it('with shader-f16: f32, and auto as f16; the fp16 peer gets model-fp16.onnx and is held to the f16 contract', async (ctx) => {
    if (!gpu().features.shaderF16) skipTest(ctx, 'the adapter has no shader-f16: the f16 rows cannot run here');
    const { records, given } = await suite(gpu());
    expect(records.map(row)).toEqual([
      ['internvit-webgpu', 'f32', ['f32'], null],
      ['onnxruntime-node', 'f32', null, null],
      ['internvit-webgpu', 'f16', ['auto'], null],
      ['onnxruntime-node', 'f16', null, null],
    ]);
    expect(given).toEqual([size('model.onnx'), size('model-fp16.onnx')]);
    const peer16 = records[3]!.agreement!.find((a) => a.against.startsWith('internvit-webgpu'))!;
    expect(peer16.against).toBe('internvit-webgpu (same run, precision f16)');
    expect(peer16.cosine).toBeGreaterThan(0.9995);
    expect(peer16.ok).toBe(true);
    expect(records[1]!.agreement![0]!.cosine).toBeUndefined();
  }, 120_000);

  it('without shader-f16: auto shares the f32 run, and the fp16 peer row says why it did not run', async () => {
    const noF16: Gpu = { ...gpu(), features: { ...gpu().features, shaderF16: false } };
    const { records, given } = await suite(noF16);
    expect(records.map(row)).toEqual([
      ['onnxruntime-node', 'f16', null, "fp16 not run: the adapter has no 'shader-f16' (WebGPU's f16 arithmetic), so no runtime computes in f16 on it"],
      ['internvit-webgpu', 'f32', ['f32', 'auto'], null],
      ['onnxruntime-node', 'f32', null, null],
    ]);
    expect(given).toEqual([size('model.onnx')]);
  }, 120_000);
});
