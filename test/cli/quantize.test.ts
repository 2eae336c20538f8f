// `internvit quantize` and `internvit info --weights` in-process: the written checkpoint is refused
// or accepted as its layout says, and info prints the GPU bytes of every storage from the config.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { weightBytes } from '../../src/model/weights.js';
import { PRESETS } from '../../src/model/presets.js';
import { useGpu } from '../node-gpu.js';
import { at, runCli, tempDir } from './harness.js';

const MODEL = at('test/fixtures/model/rmsnorm-qknorm-bf16');

describe('internvit quantize / info --weights', () => {
  it('writes model.safetensors + config.json with quantization_config; info reads it back as int4', async () => {
    const out = join(tempDir(), 'q');
    const r = await runCli(['quantize', '--model', MODEL, '--weights', 'int4', '--group-size', '64', '--output', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/wrote .*model\.safetensors: \d+ tensors, [\d.]+ MB \(int4, group 64; source [\d.]+ MB\)/);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.quantization_config).toEqual({ quant_method: 'internvit-webgpu', format: 1, weights: 'int4', group_size: 64, symmetric: false, scale_dtype: 'F32' });
    const info = await runCli(['info', '--model', out, '--weights', 'auto']);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/checkpoint: .*\d+ U8.*F32/);
    expect(info.stdout).toMatch(/weights on the GPU with --weights int4: [\d.]+ MB/);
    // A second run into the same folder is refused; bad flags are usage errors (exit 2).
    expect((await runCli(['quantize', '--model', MODEL, '--weights', 'int4', '--output', out])).stderr).toMatch(/already holds model\.safetensors/);
    expect((await runCli(['quantize', '--model', MODEL, '--weights', 'bf16', '--output', join(out, 'x')])).code).toBe(2);
    expect((await runCli(['quantize', '--model', MODEL, '--weights', 'int8', '--group-size', '32', '--output', join(out, 'y')])).stderr).toMatch(/--group-size applies to int4 only/);
    expect(existsSync(join(out, 'y'))).toBe(false);
  });

  const gpu = useGpu();
  it('info --gpu --weights int4 sizes the passes with int4 weights (a shape-only encoder, nothing uploaded)', async () => {
    const r = await runCli(['info', '--model', 'InternViT-300M-448px-V2_5', '--weights', 'int4', '--gpu'], gpu());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/embed \(--weights int4\)/);
    expect(r.stdout).toMatch(/embed \(--weights f32\)/);
  }, 300_000);

  it('info --model 6B lists every storage, and --weights int8 its bytes, as weightBytes computes them', async () => {
    const r = await runCli(['info', '--model', 'InternViT-6B-448px-V2_5', '--weights', 'int8']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/weights on the GPU by --weights: f32 22\.15 GB, bf16 11\.09 GB, int8 5\.56 GB, int4 4\.17 GB/);
    const gb = (weightBytes(PRESETS['InternViT-6B-448px-V2_5'].config, 'int8') / 1e9).toFixed(2);
    expect(r.stdout).toContain(`weights on the GPU with --weights int8: ${gb} GB`);
  });
});
