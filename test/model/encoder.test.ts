// The encoder's resource behaviour: one submit per forward, no growth over 100 forwards, dispose
// frees everything, bad shapes are refused with a message.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../node-gpu.js';
import { randomArray } from '../../src/kernels/check-harness.js';
import {
  disposeEncoder, disposeTensor, encode, encoderFromWeights, forwardPlan, randomEncoder, uploadTensor, type InternVitConfig, type Tensor,
} from '../../src/internal.js';

const tiny: InternVitConfig = {
  hiddenSize: 16, numHeads: 2, headDim: 8, intermediateSize: 32, numLayers: 2, imageSize: 28, patchSize: 14,
  numChannels: 3, normType: 'layer_norm', qkNormalization: false, qkvBias: true, layerNormEps: 1e-6, hiddenAct: 'gelu',
};

describe('InternViT encoder resources', () => {
  const gpu = useGpu();

  it('100 forwards: one submit each, no buffers, pipelines or bytes added after the first', async () => {
    const g = gpu();
    const model = randomEncoder(g, tiny, 3);
    const pixels = randomArray(2 * 3 * 28 * 28, 9, -2, 2);
    const first = await encode(model, pixels, [2, 3, 28, 28], { hiddenStates: [0, 2] });
    const c0 = { ...g.counters };
    let last = first;
    for (let i = 0; i < 100; i++) last = await encode(model, pixels, [2, 3, 28, 28], { hiddenStates: [0, 2] });
    const c1 = { ...g.counters };
    console.log('after first forward', c0, 'after 100 more', c1);
    expect(c1.submits - c0.submits).toBe(100);
    expect(c1.buffersCreated).toBe(c0.buffersCreated);
    expect(c1.bytesAllocated).toBe(c0.bytesAllocated);
    expect(c1.bytesLive).toBe(c0.bytesLive);
    expect(c1.pipelinesCreated).toBe(c0.pipelinesCreated);
    expect(c1.bindGroupsCreated).toBe(c0.bindGroupsCreated);
    // Same input, same plan: bit-identical outputs.
    expect(Array.from(last.lastHiddenState.data)).toEqual(Array.from(first.lastHiddenState.data));
    expect(first.lastHiddenState.shape).toEqual([2, 5, 16]);
    expect(first.poolerOutput.shape).toEqual([2, 16]);
    expect(first.hiddenStates!.map((h) => h.shape)).toEqual([[2, 5, 16], [2, 5, 16]]);
    // pooler_output is the CLS row of last_hidden_state.
    expect(Array.from(first.poolerOutput.data.subarray(16, 32))).toEqual(Array.from(first.lastHiddenState.data.subarray(5 * 16, 5 * 16 + 16)));
    // hidden_states.2 (after the last layer) is last_hidden_state.
    expect(Array.from(first.hiddenStates![1]!.data)).toEqual(Array.from(first.lastHiddenState.data));
    disposeEncoder(model);
  });

  it('dispose frees every GPU buffer the encoder made (weights and plans)', async () => {
    const g = gpu();
    const live = g.counters.bytesLive;
    const model = randomEncoder(g, tiny, 4);
    // Two plans for one shape (different hidden states): kernels and pipelines are shared, buffers not.
    await encode(model, randomArray(2 * 3 * 28 * 28, 1), [2, 3, 28, 28]);
    await encode(model, randomArray(2 * 3 * 28 * 28, 2), [2, 3, 28, 28], { hiddenStates: true });
    expect(model.plans.size).toBe(2);
    expect(g.counters.bytesLive).toBeGreaterThan(live);
    disposeEncoder(model);
    expect(g.counters.bytesLive).toBe(live);
    await expect(encode(model, new Float32Array(2 * 3 * 28 * 28), [2, 3, 28, 28])).rejects.toThrow(/disposed/);
  });

  it('refuses bad pixel shapes and hidden-state indices with a message', async () => {
    const g = gpu();
    const model = randomEncoder(g, tiny, 5);
    await expect(forwardPlan(model, [1, 4, 28, 28])).rejects.toThrow(/\(B, 3, H, W\); got \[1, 4, 28, 28\]/);
    await expect(forwardPlan(model, [1, 3, 13, 28])).rejects.toThrow(/smaller than one 14×14 patch/);
    await expect(forwardPlan(model, [1, 3, 28, 28], { hiddenStates: [3] })).rejects.toThrow(/hidden_states index 3 is outside 0\.\.2/);
    await expect(encode(model, new Float32Array(5), [2, 3, 28, 28])).rejects.toThrow(/input 'pixel_values' expects \[2, 3, 28, 28\] f32/);
    disposeEncoder(model);
  });

  it("randomEncoder with weightStorage 'bf16': bf16 linear weights, half their bytes, outputs near the f32 encoder's", async () => {
    const g = gpu();
    const f32 = randomEncoder(g, tiny, 6);
    const bf16 = randomEncoder(g, tiny, 6, { weightStorage: 'bf16' });
    const qkv = (m: typeof f32) => m.weights.get('encoder.layers.0.attn.qkv.weight')!;
    expect([qkv(f32).dtype, qkv(bf16).dtype]).toEqual(['f32', 'bf16']);
    expect(qkv(bf16).byteLength * 2).toBe(qkv(f32).byteLength);
    expect(bf16.weights.get('encoder.layers.0.norm1.weight')!.dtype).toBe('f32');
    const pixels = randomArray(3 * 28 * 28, 11, -2, 2);
    const a = (await encode(f32, pixels, [1, 3, 28, 28])).lastHiddenState.data;
    const b = (await encode(bf16, pixels, [1, 3, 28, 28])).lastHiddenState.data;
    let maxAbs = 0;
    let maxRef = 0;
    for (let i = 0; i < a.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
      maxRef = Math.max(maxRef, Math.abs(a[i]!));
    }
    console.log(`random tiny encoder, bf16 vs f32 weights: max |Δ| ${maxAbs.toExponential(2)} (max |out| ${maxRef.toFixed(2)})`);
    expect(maxAbs).toBeGreaterThan(0);
    expect(maxAbs).toBeLessThan(0.02 * maxRef); // bf16 keeps 8 significant bits
    disposeEncoder(f32);
    disposeEncoder(bf16);
  });

  it('encoderFromWeights accepts 16-bit linear weights only, naming the tensor', () => {
    const g = gpu();
    const model = randomEncoder(g, tiny, 7, { weightStorage: 'f16' });
    expect(() => encoderFromWeights(g, tiny, model.weights)).not.toThrow();
    const weights = new Map<string, Tensor>(model.weights);
    const norm = uploadTensor(g, new Uint16Array(16), [16], 'f16', 'norm1 as f16');
    weights.set('encoder.layers.1.norm1.weight', norm);
    expect(() => encoderFromWeights(g, tiny, weights)).toThrow(/encoder\.layers\.1\.norm1\.weight: expected f32 on the GPU, got f16/);
    const fc1 = uploadTensor(g, new Int32Array(32 * 16), [32, 16], 'i32', 'fc1 as i32');
    weights.set('encoder.layers.1.norm1.weight', model.weights.get('encoder.layers.1.norm1.weight')!);
    weights.set('encoder.layers.0.mlp.fc1.weight', fc1);
    expect(() => encoderFromWeights(g, tiny, weights)).toThrow(/encoder\.layers\.0\.mlp\.fc1\.weight: expected f32, bf16 or f16 on the GPU, got i32/);
    disposeTensor(g, norm);
    disposeTensor(g, fc1);
    disposeEncoder(model);
  });
});
