// Linear weights kept 16-bit on the GPU (weightStorage). The kernels widen them to f32 on load, so:
// - a BF16 or F16 checkpoint gives the same bits whether its weights are stored as in the file
//   ('auto') or widened at load ('f32'), with about half the GPU memory;
// - converting a BF16 checkpoint to f16 storage is exact for values in f16's normal range and stays
//   within the float32 parity tolerance;
// - converting an F32 checkpoint to bf16 rounds the weights: reported, and bounded loosely.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeWeights } from '../../src/api.js';
import { disposeEncoder, encode, loadEncoder, type ForwardResult } from '../../src/model/internvit.js';
import type { WeightStorage } from '../../src/model/weights.js';
import { readSafetensorsFloat32 } from '../../src/runtime/safetensors.js';
import { compare, formatResult } from '../../src/kernels/check-harness.js';
import { useGpu } from '../node-gpu.js';
import { FIXTURE_ROOTS } from './parity-core.js';

const dir = (name: string) => join(FIXTURE_ROOTS.model, name);
const tensors = async (name: string, file: string) => readSafetensorsFloat32(await readFile(join(dir(name), file)), `${name}/${file}`);

describe('weight storage (linear weights f32, bf16 or f16 on the GPU)', () => {
  const gpu = useGpu();

  async function forward(name: string, weightStorage: WeightStorage) {
    const pixels = (await tensors(name, 'pixels.safetensors')).get('pixel_values')!;
    const { encoder } = await loadEncoder(gpu(), dir(name), { weightStorage });
    try {
      const bytes = [...encoder.weights.values()].reduce((a, t) => a + t.byteLength, 0);
      const dtypes = new Set([...encoder.weights.entries()].filter(([k]) => /(qkv|proj|fc1|fc2)\.weight$/.test(k)).map(([, t]) => t.dtype));
      const out = await encode(encoder, pixels.data, pixels.shape, { hiddenStates: true });
      return { out, bytes, dtypes: [...dtypes], described: describeWeights(encoder.weights) };
    } finally {
      disposeEncoder(encoder);
    }
  }

  const outputsOf = (r: ForwardResult) => [r.lastHiddenState, r.poolerOutput, ...(r.hiddenStates ?? [])];

  // (The F16 fixture runs with f16 storage in parity.test.ts; one bit-identity case is enough here.)
  for (const [name, half] of [['ragged-47x61', 'bf16']] as const) {
    it(`${name}: 'auto' keeps the checkpoint's ${half} and gives the same bits as 'f32'`, async () => {
      const a = await forward(name, 'auto');
      const f = await forward(name, 'f32');
      expect(a.dtypes).toEqual([half]);
      expect(f.dtypes).toEqual(['f32']);
      const av = outputsOf(a.out);
      const fv = outputsOf(f.out);
      expect(av.length).toBe(fv.length);
      av.forEach((o, i) => expect(Buffer.from(o.data.buffer).equals(Buffer.from(fv[i]!.data.buffer)), `output ${i}`).toBe(true));
      console.log(`${name}: ${a.described} vs ${f.described}`);
      expect(a.bytes).toBeLessThan(0.75 * f.bytes);
      expect(a.described).toMatch(new RegExp(`linear weights in ${half}, the rest f32`));
    });
  }

  it("rmsnorm-qknorm-bf16 stored as f16: within the float32 tolerance of PyTorch", async () => {
    const name = 'rmsnorm-qknorm-bf16';
    const r = await forward(name, 'f16');
    expect(r.dtypes).toEqual(['f16']);
    const want = await tensors(name, 'expected.safetensors');
    const c = compare(`${name} (f16 storage) last_hidden_state`, r.out.lastHiddenState.data, want.get('last_hidden_state')!.data);
    console.log(formatResult(c));
    expect(c.ok, formatResult(c)).toBe(true);
  });

  // Rounding an F32 checkpoint's weights is a user's choice of memory over exactness. bf16 keeps 8
  // significant bits: the outputs move by about that relative amount, far beyond the f32 tolerance.
  // The bound here (|err| ≤ 0.05 + 0.05·|want|) only catches a broken conversion (swapped halves or a
  // wrong exponent give errors of order 1 or more). F32 → f16 is the same path with another rounding
  // (test/runtime/dtype-half.test.ts checks its bits; the f16 kernel runs in the case above).
  for (const [storage, tol] of [['bf16', 0.05]] as const) {
    it(`layernorm-f32 stored as ${storage}: rounded, so outside the f32 tolerance, within ${tol} relative`, async () => {
      const name = 'layernorm-f32';
      const r = await forward(name, storage);
      expect(r.dtypes).toEqual([storage]);
      const want = (await tensors(name, 'expected.safetensors')).get('last_hidden_state')!.data;
      const strict = compare(`${name} (${storage} storage) last_hidden_state`, r.out.lastHiddenState.data, want);
      const loose = compare(`${name} (${storage} storage) last_hidden_state, loose`, r.out.lastHiddenState.data, want, tol, tol);
      console.log(`${name}, ${storage} storage: max |err| ${strict.maxAbs.toExponential(2)}, ${(100 * strict.worstRatio).toFixed(0)}% of the f32 tolerance (rounded weights), ${(100 * loose.worstRatio).toFixed(0)}% of the loose bound`);
      expect(strict.maxAbs).toBeGreaterThan(0); // the weights were really rounded
      expect(loose.ok, formatResult(loose)).toBe(true);
    });
  }
});
