// Automatic micro-batching: batches (and InternVL tile stacks) over a device limit run as passes of the
// largest batch that fits, and give exactly the per-image results. Most cases lower the binding limit
// on a copy of the real device's Gpu (the device is the same; only the runtime's view of its limits
// changes, which is all the splitter and compilePlan read); one case uses the adapter's real limit.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../node-gpu.js';
import { compare, formatResult, randomArray } from '../../src/kernels/check-harness.js';
import {
  clearPreprocessCache, disposeEncoder, disposeTensor, encode, getPreprocessPlan, InternViT, LimitError, maxBatch, passSizes, planLimitViolations, preprocess, preprocessReference,
  presetConfig, randomEncoder, type PreprocessOptions, recordForward, shapeOnlyEncoder, uploadTensor, type ForwardResult, type InternVitConfig, type InternVitEncoder,
} from '../../src/internal.js';
import { expectedTensors, parseConfig, type WriteTensor } from '../../src/internal.js';
import { makeTempDir, randomTensor, safetensorsFile, seeded, tinyChatConfigJson, writeFiles } from '../runtime/checkpoint-helpers.js';
import { runCli } from '../cli/harness.js';
import { largestBinding, withLimits } from './lowered-limits.js';
import { imageTokens, loadInternVlVision, maxTilesPerPass, recordTokens, disposeInternVlVision } from '../../src/model/internvl.js';

const tiny: InternVitConfig = {
  hiddenSize: 16, numHeads: 2, headDim: 8, intermediateSize: 2048, numLayers: 2, imageSize: 28, patchSize: 14,
  numChannels: 3, normType: 'layer_norm', qkNormalization: false, qkvBias: true, layerNormEps: 1e-6, hiddenAct: 'gelu',
};
/** fc1's activation for one 28×28 image: 5 tokens × 2048 × 4 bytes, the largest per-image binding of `tiny`. */
const FC1_PER_IMAGE = 5 * 2048 * 4;

function fits(model: InternVitEncoder, batch: number, size: number, hidden: number[] = []): boolean {
  return planLimitViolations(recordForward(model, [batch, 3, size, size], hidden)).length === 0;
}

function bitsEqual(got: Float32Array, want: Float32Array): boolean {
  if (got.length !== want.length) return false;
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  return a.every((x, i) => x === b[i]);
}

/** Each image alone through the batch-1 plan: the reference a split batch must equal bit for bit. */
async function perImage(model: InternVitEncoder, pixels: Float32Array, batch: number, size: number, hidden: number[] = []) {
  const per = 3 * size * size;
  const outs: ForwardResult[] = [];
  for (let b = 0; b < batch; b++) outs.push(await encode(model, pixels.subarray(b * per, (b + 1) * per), [1, 3, size, size], { hiddenStates: hidden }));
  const cat = (pick: (r: ForwardResult) => Float32Array) => {
    const parts = outs.map(pick);
    const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
    return out;
  };
  return {
    last: cat((r) => r.lastHiddenState.data),
    pooler: cat((r) => r.poolerOutput.data),
    hidden: hidden.map((_, k) => cat((r) => r.hiddenStates![k]!.data)),
  };
}

describe('automatic micro-batching', () => {
  const gpu = useGpu();

  it('a batch over a lowered binding limit runs as the largest passes and equals per-image results bit for bit', async () => {
    const g = withLimits(gpu(), { maxStorageBufferBindingSize: Math.floor(3.5 * FC1_PER_IMAGE) });
    const model = randomEncoder(g, tiny, 21);
    const B = 7;
    const pixels = randomArray(B * 3 * 28 * 28, 22, -2, 2);
    // The whole batch's plan breaks the limit at fc1; three images is the largest batch that fits.
    const whole = planLimitViolations(recordForward(model, [B, 3, 28, 28], []));
    expect(whole.length).toBeGreaterThan(0);
    expect(whole[0]!.limit).toBe('maxStorageBufferBindingSize');
    expect(fits(model, 3, 28)).toBe(true);
    expect(fits(model, 4, 28)).toBe(false);

    const submits = g.counters.submits;
    const out = await encode(model, pixels, [B, 3, 28, 28], { hiddenStates: [0, 1] });
    expect(out.microBatches).toEqual([3, 3, 1]);
    expect(g.counters.submits - submits).toBe(3); // one submit per pass
    expect(out.lastHiddenState.shape).toEqual([B, 5, 16]);
    expect(out.poolerOutput.shape).toEqual([B, 16]);
    expect(out.hiddenStates!.map((h) => h.shape)).toEqual([[B, 5, 16], [B, 5, 16]]);

    const want = await perImage(model, pixels, B, 28, [0, 1]);
    expect(bitsEqual(out.lastHiddenState.data, want.last)).toBe(true);
    expect(bitsEqual(out.poolerOutput.data, want.pooler)).toBe(true);
    expect(bitsEqual(out.hiddenStates![0]!.data, want.hidden[0]!)).toBe(true);
    expect(bitsEqual(out.hiddenStates![1]!.data, want.hidden[1]!)).toBe(true);

    // A GPU tensor as input: each pass copies its slice of it in the command buffer.
    const t = uploadTensor(g, pixels, [B, 3, 28, 28]);
    const fromGpu = await encode(model, t, [B, 3, 28, 28]);
    expect(fromGpu.microBatches).toEqual([3, 3, 1]);
    expect(bitsEqual(fromGpu.lastHiddenState.data, want.last)).toBe(true);
    disposeTensor(g, t);

    // profile: every op of every pass, in order.
    const profiled = await encode(model, pixels, [B, 3, 28, 28], { profile: true });
    const opsOf = (n: number) => recordForward(model, [n, 3, 28, 28], []).ops.filter((op) => op.type === 'dispatch').length;
    expect(profiled.profile!.length).toBe(2 * opsOf(3) + opsOf(1));
    expect(bitsEqual(profiled.lastHiddenState.data, want.last)).toBe(true);

    // The answer is cached: a second split forward records no plan and compiles nothing new.
    const created = g.counters.bindGroupsCreated;
    const again = await encode(model, pixels, [B, 3, 28, 28], { hiddenStates: [0, 1] });
    expect(g.counters.bindGroupsCreated).toBe(created);
    expect(bitsEqual(again.lastHiddenState.data, want.last)).toBe(true);
    disposeEncoder(model);
  });

  it('other limits that grow with the batch split it too: workgroups per dimension', async () => {
    const g = withLimits(gpu(), { maxComputeWorkgroupsPerDimension: 4 });
    const model = randomEncoder(g, { ...tiny, intermediateSize: 512 }, 26); // fc1: 512 / 128 = 4 column tiles
    const B = 6;
    const pixels = randomArray(B * 3 * 28 * 28, 27, -2, 2);
    // layernorm's grid of one workgroup per row: 4 images are 20 rows, 4×5 workgroups; 3 are 15, 4×4.
    expect(() => recordForward(model, [4, 3, 28, 28], [])).toThrow(/encoder\.layers\.0\.norm1: dispatch of 4×5×1 workgroups is outside 1\.\.4/);
    expect(fits(model, 3, 28)).toBe(true);
    const out = await encode(model, pixels, [B, 3, 28, 28]);
    expect(out.microBatches).toEqual([3, 3]);
    const want = await perImage(model, pixels, B, 28);
    expect(bitsEqual(out.lastHiddenState.data, want.last)).toBe(true);
    disposeEncoder(model);
  });

  it('concurrent split forwards on one model give exactly the serial results', async () => {
    const g = withLimits(gpu(), { maxStorageBufferBindingSize: Math.floor(3.5 * FC1_PER_IMAGE) });
    const model = randomEncoder(g, tiny, 28);
    const inputs = [7, 5, 2, 7].map((b, i) => ({ b, px: randomArray(b * 3 * 28 * 28, 60 + i, -2, 2) }));
    const serial: ForwardResult[] = [];
    for (const { b, px } of inputs) serial.push(await encode(model, px, [b, 3, 28, 28]));
    const together = await Promise.all(inputs.map(({ b, px }) => encode(model, px, [b, 3, 28, 28])));
    expect(together.map((r) => r.microBatches)).toEqual([[3, 3, 1], [3, 2], [2], [3, 3, 1]]);
    together.forEach((r, i) => expect(bitsEqual(r.lastHiddenState.data, serial[i]!.lastHiddenState.data), `call ${i}`).toBe(true));
    disposeEncoder(model);
  });

  it('maxBatch reports the largest batch and what the next one breaks; passSizes fills passes first', () => {
    const g = withLimits(gpu(), { maxStorageBufferBindingSize: Math.floor(3.5 * FC1_PER_IMAGE) });
    const model = randomEncoder(g, tiny, 23);
    const fit = maxBatch(model, 28, 28);
    expect(fit.batch).toBe(3);
    expect(fit.limitedBy).toMatch(/internvit 4×3×28×28: op '[\w.]+', binding '\w+' needs \d+ bytes, over this device's maxStorageBufferBindingSize of 143360/);
    expect(maxBatch(model, 28, 28, { want: 2 })).toEqual({ batch: 2, limitedBy: null });
    expect(passSizes(13, 6)).toEqual([6, 6, 1]);
    expect(passSizes(6, 6)).toEqual([6]);
    disposeEncoder(model);
  });

  it('keepOnGpu on a split batch, a wrong-sized input, and a batch of 1 that cannot fit are clear errors', async () => {
    const g = withLimits(gpu(), { maxStorageBufferBindingSize: Math.floor(3.5 * FC1_PER_IMAGE) });
    const model = randomEncoder(g, tiny, 24);
    await expect(encode(model, new Float32Array(7 * 3 * 28 * 28), [7, 3, 28, 28], { keepOnGpu: true }))
      .rejects.toThrow(/keepOnGpu: a batch of 7 at 28×28 needs 3 passes on this device \(at most 3 images per pass/);
    await expect(encode(model, new Float32Array(5), [7, 3, 28, 28]))
      .rejects.toThrow(/input 'pixel_values' expects \[7, 3, 28, 28\] f32 \(65856 bytes\), got Float32Array of 5 elements/);
    disposeEncoder(model);

    // The patch embedding's weight (16×3×14×14×4 = 37632 bytes) is over a 16 KiB limit whatever the batch.
    const g2 = withLimits(gpu(), { maxStorageBufferBindingSize: 16384 });
    const small = randomEncoder(g2, tiny, 25);
    const err = await encode(small, new Float32Array(2 * 3 * 28 * 28), [2, 3, 28, 28]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitError);
    expect((err as Error).message).toMatch(/internvit 1×3×28×28: op '[\w.]+', binding '\w+' needs \d+ bytes, over this device's maxStorageBufferBindingSize of 16384.*Even one 28×28 image does not fit/);
    disposeEncoder(small);
  });

  it('InternVL image tokens: a tile stack over the limit equals each tile alone', async () => {
    const chat = 'test/fixtures/internvl/v2-bf16';
    const real = gpu();
    // The limit: the largest binding of a one-tile plan (a weight here), so one tile fits per pass, not three.
    const { model: probe } = await loadInternVlVision(real, chat);
    const S = probe.chat.imageSize;
    const oneTile = recordTokens(probe, [1, 3, S, S]);
    const largest = largestBinding(oneTile);
    disposeInternVlVision(probe);
    const g = withLimits(real, { maxStorageBufferBindingSize: largest });
    const { model } = await loadInternVlVision(g, chat);
    const tilesFit = (t: number) => planLimitViolations(recordTokens(model, [t, 3, S, S])).length === 0;
    const perPass = maxTilesPerPass(model, S, S).batch;
    expect(perPass).toBeLessThan(3);
    expect(tilesFit(perPass) && !tilesFit(perPass + 1)).toBe(true);

    const T = 3;
    const pixels = randomArray(T * 3 * S * S, 31, -2, 2);
    const split = await imageTokens(model, pixels, [T, 3, S, S]);
    expect(split.microBatches).toEqual(passSizes(T, perPass));
    const per = 3 * S * S;
    for (let t = 0; t < T; t++) {
      const alone = await imageTokens(model, pixels.subarray(t * per, (t + 1) * per), [1, 3, S, S]);
      const n = alone.data.length;
      expect(split.shape).toEqual([T, ...alone.shape.slice(1)]);
      expect(bitsEqual(split.data.subarray(t * n, (t + 1) * n), alone.data), `tile ${t}`).toBe(true);
    }
    disposeInternVlVision(model);
  });

  it('the one-call API: preprocessing runs with the first pass, later passes read slices of its GPU output', async () => {
    // A chat checkpoint whose MLP is wide next to its 28×28 tiles: fc1 makes 5 × 1024 × 4 = 20480 bytes
    // per tile, while the 3-tile pixel_values (28224 bytes) and the 16-bit fc1 weight (32768) are small.
    const real = gpu();
    const { dir, cleanup } = await makeTempDir();
    try {
      const configJson = tinyChatConfigJson({ hidden_size: 16, intermediate_size: 1024, num_hidden_layers: 1 });
      const config = parseConfig(configJson, 'config.json');
      const rand = seeded(51);
      const tensors: Record<string, WriteTensor> = {};
      for (const t of expectedTensors(config.vision, { prefix: config.prefix, projector: config.chat })) {
        tensors[t.name] = randomTensor(t.shape, t.linear ? 'BF16' : 'F32', rand);
      }
      await writeFiles(dir, { 'config.json': JSON.stringify(configJson), 'model.safetensors': safetensorsFile(tensors) });
      const g = withLimits(real, { maxStorageBufferBindingSize: Math.floor(2.5 * 20480) });
      const model = await InternViT.load(dir, { gpu: g });
      console.log(model.describe());
      expect(model.describe()).toMatch(/embed: one pass on this device takes up to 2 images at 28×28 \(3 would break internvit 3×3×28×28: op '[\w.]+', binding '\w+' needs 61440 bytes/);
      expect(model.describe()).toMatch(/imageTokens: one pass on this device takes up to 2 tiles at 28×28/);

      const image = 'test/fixtures/preprocess/sources/d_100x25.png'; // 2×1 grid + thumbnail at maxTiles 2
      const submits = g.counters.submits;
      const tokens = await model.imageTokens(image, { maxTiles: 2 });
      expect(g.counters.submits - submits).toBe(2); // preprocessing + pass 1, then pass 2
      expect(tokens.tiles.count).toBe(3);
      expect(tokens.microBatches).toEqual([2, 1]);
      const embedded = await model.embed(image, { maxTiles: 2, hiddenStates: [0] });
      expect(embedded.microBatches).toEqual([2, 1]);
      expect(embedded.lastHiddenState.shape).toEqual([3, 5, 16]);

      // Each tile alone, from the same preprocessing read back to the host.
      const px = await preprocess(g, image, { size: 28, maxTiles: 2 });
      const per = 3 * 28 * 28;
      const tile = (t: number) => px.pixelValues.subarray(t * per, (t + 1) * per);
      for (let t = 0; t < 3; t++) {
        const alone = await model.imageTokensFromPixels(tile(t), [1, 3, 28, 28]);
        const n = alone.data.length;
        expect(bitsEqual(tokens.data.subarray(t * n, (t + 1) * n), alone.data), `tokens of tile ${t}`).toBe(true);
        const e = await model.embedPixels(tile(t), [1, 3, 28, 28], { hiddenStates: [0] });
        const m = e.lastHiddenState.data.length;
        expect(bitsEqual(embedded.lastHiddenState.data.subarray(t * m, (t + 1) * m), e.lastHiddenState.data), `embedding of tile ${t}`).toBe(true);
        expect(bitsEqual(embedded.hiddenStates![0]!.data.subarray(t * m, (t + 1) * m), e.hiddenStates![0]!.data), `hidden_states.0 of tile ${t}`).toBe(true);
        expect(bitsEqual(embedded.poolerOutput.data.subarray(t * 16, (t + 1) * 16), e.poolerOutput.data), `pooler of tile ${t}`).toBe(true);
      }
      await expect(model.imageTokens(image, { maxTiles: 2, keepOnGpu: true })).rejects.toThrow(/keepOnGpu: 3 tiles at 28×28 need 2 passes on this device \(at most 2 tiles per pass/);
      model.dispose();
    } finally {
      await cleanup();
    }
  }, 180_000);

  it('preprocessing an image over the binding limit: the source is split into row bands, bytes unchanged', async () => {
    // f_120x90.png binds 120 × 90 × 4 = 43200 bytes as one u32 per pixel; at 16 KiB, bands of 34 rows.
    // At 28 KiB (bands of 59 rows) a 2×1 grid + thumbnail fits: two resizes read the bands.
    const real = gpu();
    const image = 'test/fixtures/preprocess/sources/f_120x90.png';
    const cases: [number, PreprocessOptions, string[]][] = [
      [16384, { mode: 'none', size: 28 }, ['image.0', 'image.1', 'image.2']],
      [16384, { mode: 'clip', size: 28 }, ['image.0', 'image.1', 'image.2']],
      [16384, { mode: 'internvl', size: 28, maxTiles: 1 }, ['image.0', 'image.1', 'image.2']],
      [28672, { mode: 'internvl', size: 28, maxTiles: 2 }, ['image.0', 'image.1']],
    ];
    for (const [limit, o, inputs] of cases) {
      const g = withLimits(real, { maxStorageBufferBindingSize: limit });
      const plan = await getPreprocessPlan(g, 120, 90, o);
      expect([...plan.compiled.plan.inputs.keys()]).toEqual(inputs);
      const banded = await preprocess(g, image, o);
      const whole = await preprocess(real, image, o);
      expect(banded.tiles).toBe(whole.tiles);
      expect(bitsEqual(banded.pixelValues, whole.pixelValues), `${o.mode} max ${o.maxTiles}`).toBe(true);
    }
  });

  it("preprocessing a 33.6 Mpx image over the adapter's real binding limit: row bands, equal to the Pillow-exact CPU reference", async (ctx) => {
    const g = gpu();
    const [W, H] = [6000, 5600]; // 134,400,000 bytes as one u32 per pixel
    if (W * H * 4 <= g.limits.maxStorageBufferBindingSize) {
      ctx.skip(`this adapter binds ${g.limits.maxStorageBufferBindingSize} bytes: a ${W}×${H} image fits whole; the lowered-limit case above covers bands`);
    }
    const data = new Uint8Array(W * H * 4);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24; // deterministic noise
    const img = { data, width: W, height: H, name: 'noise 6000×5600' };
    const o = { mode: 'none', size: 28 } as const;
    const plan = await getPreprocessPlan(g, W, H, o);
    expect(plan.compiled.plan.inputs.size).toBe(Math.ceil(H / Math.floor(g.limits.maxStorageBufferBindingSize / (W * 4))));
    expect(plan.compiled.plan.inputs.size).toBeGreaterThan(1);
    const got = await preprocess(g, img, o);
    const want = preprocessReference(img, o);
    const r = compare('banded 6000×5600 → 28×28', got.pixelValues, want.pixelValues);
    console.log(formatResult(r));
    expect(r.ok, formatResult(r)).toBe(true);
    clearPreprocessCache(g); // frees the bands' buffers now
  }, 120_000);

  it('preprocessing whose resize is over the limit even in bands is refused with a LimitError saying what to do', async () => {
    // d_100x25.png at S=28: the 112×28 resize for a 4×1 grid is bound whole (12544 bytes > 8192).
    const g = withLimits(gpu(), { maxStorageBufferBindingSize: 8192 });
    const err = await preprocess(g, 'test/fixtures/preprocess/sources/d_100x25.png', { size: 28 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitError);
    expect((err as Error).message).toMatch(/preprocess 100×25 internvl S=28: op '[\w.]+', binding '\w+' needs \d+ bytes, over this device's maxStorageBufferBindingSize of 8192.*Downscale the image/);
  });

  it('internvit info --gpu: the largest batch per pass of InternViT-300M and -6B on this device, nothing loaded', async () => {
    const g = gpu();
    const limit = Math.min(g.limits.maxStorageBufferBindingSize, g.limits.maxBufferSize);
    const before = { ...g.counters };
    const r300 = await runCli(['info', '--model', 'InternViT-300M-448px-V2_5', '--gpu'], g);
    const r6b = await runCli(['info', '--model', 'InternViT-6B-448px-V2_5', '--gpu'], g);
    const plain = await runCli(['info', '--model', 'InternViT-300M-448px-V2_5']);
    console.log(`${r300.stdout}\n${r6b.stdout}`);
    expect(g.counters).toEqual(before); // recorded plans only: no buffer, pipeline or submit
    expect([r300.code, r6b.code, plain.code]).toEqual([0, 0, 0]);
    // fc1's activation is the largest binding: 1025 tokens × MLP width × 4 bytes per image.
    const per300 = Math.floor(limit / (1025 * 4096 * 4));
    expect(r300.stdout).toContain(`embed (16-bit linear weights): one pass on this device takes up to ${per300} images at 448×448 (${per300 + 1} would break internvit ${per300 + 1}×3×448×448: op 'encoder.layers.0.mlp.fc1'`);
    expect(r300.stdout).toContain(`embed (--weights f32): one pass on this device takes up to ${per300} images at 448×448`);
    expect(plain.stdout).toMatch(/^largest batch per pass: add --gpu/m);
    // A shape-only encoder sizes but cannot run, and disposing it frees nothing real.
    const sizing = shapeOnlyEncoder(g, presetConfig('InternViT-300M-448px').vision, 'bf16');
    expect(maxBatch(sizing, 448, 448).batch).toBe(per300);
    await expect(encode(sizing, new Float32Array(3 * 448 * 448), [1, 3, 448, 448])).rejects.toThrow(/shapeOnlyEncoder \(for sizing\).*cannot run/);
    disposeEncoder(sizing);
    expect(g.counters).toEqual(before);
    // The 6B's f32 fc1 weight (12800 × 3200 × 4 = 163,840,000 bytes) is itself over a 128 MiB binding limit.
    const per6b = Math.floor(limit / (1025 * 12800 * 4));
    expect(r6b.stdout).toContain(`embed (16-bit linear weights): one pass on this device takes up to ${per6b} images at 448×448`);
    if (limit < 163_840_000) {
      expect(r6b.stdout).toMatch(/embed \(--weights f32\): internvit 1×3×448×448: op '[\w.]+', binding 'w' needs 163840000 bytes.*Even one 448×448 image does not fit/);
    }
  });

  it("the adapter's real binding limit: a batch whose fc1 activation is over it equals per-image results", async (ctx) => {
    const g = gpu();
    // 14×14 images: 2 tokens; fc1 of width 16384 makes 128 KiB per image, so on a 128 MiB binding
    // limit (lavapipe; WebGPU's default) 1024 images fit in one pass and 1030 need two.
    const config: InternVitConfig = { ...tiny, imageSize: 14, intermediateSize: 16384, numLayers: 1 };
    const perImageBytes = 2 * 16384 * 4;
    const limit = g.limits.maxStorageBufferBindingSize;
    const fitting = Math.floor(limit / perImageBytes);
    if (fitting > 1024) {
      ctx.skip(`this adapter binds ${limit} bytes: going over it would take ${fitting + 1} images; the lowered-limit cases above cover the splitter`);
    }
    const model = randomEncoder(g, config, 41);
    const B = fitting + 6;
    const pixels = randomArray(B * 3 * 14 * 14, 42, -2, 2);
    let t0 = performance.now();
    const out = await encode(model, pixels, [B, 3, 14, 14]);
    console.log(`batch ${B}: ${out.microBatches.join(' + ')} in ${(performance.now() - t0).toFixed(0)} ms`);
    t0 = performance.now();
    expect(out.microBatches).toEqual([fitting, 6]);
    // Each image alone, for the images at the ends of both passes and a few between (all 1030 would
    // take minutes here: a one-image plan still runs fc1's full 64-row tiles).
    const per = 3 * 14 * 14;
    const D = config.hiddenSize;
    for (const b of [0, 1, 517, fitting - 1, fitting, B - 1]) {
      const alone = await encode(model, pixels.subarray(b * per, (b + 1) * per), [1, 3, 14, 14]);
      expect(bitsEqual(out.lastHiddenState.data.subarray(b * 2 * D, (b + 1) * 2 * D), alone.lastHiddenState.data), `image ${b}`).toBe(true);
      expect(bitsEqual(out.poolerOutput.data.subarray(b * D, (b + 1) * D), alone.poolerOutput.data), `image ${b}`).toBe(true);
    }
    console.log(`6 single-image forwards: ${(performance.now() - t0).toFixed(0)} ms`);
    disposeEncoder(model);
  }, 180_000);
});
