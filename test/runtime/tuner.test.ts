// The autotuner (src/runtime/tuner*.ts) on a toy version table with real kernels: a planted wrong
// version never wins even when a fake clock makes it the fastest; the cache round trip (a second
// load times nothing), a corrupt or tampered cache is ignored with a warning; 'off' and 'full'; the
// Node cache file; and the real matmul table on one small ragged shape.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defineKernel } from '../../src/runtime/kernel.js';
import { createPlan, dispatch, input, intermediate, output, type Plan } from '../../src/runtime/plan.js';
import { chooseVersion, type VersionTable } from '../../src/runtime/versions.js';
import { formatTuneTable, openTuning, recordTuned, tunedVersions, type TuneOptions } from '../../src/runtime/tuner.js';
import { memoryTuningStore, parseTuning, TUNING_FORMAT } from '../../src/runtime/tuner-cache.js';
import { tuneOp, versionAgreement, type TuneResult } from '../../src/runtime/tuner-trial.js';
import { fileStore, tuningCachePath } from '../../src/runtime/tuner-node-store.js';
import { MATMUL_VERSIONS, type MatmulShape } from '../../src/kernels/matmul.js';
import { ceilDiv } from '../../src/kernels/dispatch.js';
import { skipTest, useGpu } from '../node-gpu.js';

// y = 2·x, three ways: 'good' (the heuristic), 'also-good' (another workgroup size: the same
// numbers), 'wrong' (skips the second half: less work, so also genuinely faster) and 'never'
// (unavailable everywhere).
const SCALE = defineKernel({
  name: 'test.tuner_scale',
  source: `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
override N: u32;
override LIMIT: u32;
override WG: u32 = 64u;
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x >= N) { return; }
  y[g.x] = select(0.0, 2.0 * x[g.x], g.x < LIMIT);
}`,
});
interface Toy { n: number }
let recorded = 0;
const TOY: VersionTable<Toy> = {
  kernel: 'toy',
  versions: [
    { name: 'good', summary: 'the reference' },
    { name: 'also-good', summary: 'workgroups of 32' },
    { name: 'wrong', summary: 'planted: skips half the outputs' },
    { name: 'never', summary: 'cannot run anywhere', unavailable: () => 'needs a feature no device has' },
  ],
  heuristic: () => 'good',
  key: (s) => `n${s.n}`,
  trial: (plan, s, version) => scaleOp(plan, input(plan, 'x', [s.n]), version),
};
function scaleOp(plan: Plan, x: ReturnType<typeof input>, version?: string) {
  const n = x.shape[0]!;
  const v = chooseVersion(plan, TOY, { n }, version);
  recorded++;
  const y = intermediate(plan, [n], 'f32', 'y');
  const wg = v === 'also-good' ? 32 : 64;
  dispatch(plan, { kernel: SCALE, bindings: { x, y }, workgroups: [ceilDiv(n, wg)], constants: { N: n, LIMIT: v === 'wrong' ? n >> 1 : n, WG: wg } });
  return y;
}
/** A model-like plan: two toy ops of different shapes. */
const recordToy = (tuning: Awaited<ReturnType<typeof openTuning>> | undefined) => () => {
  const plan = createPlan(gpu(), 'toy model');
  plan.tunedVersions = tunedVersions(tuning);
  const x = input(plan, 'x', [1000]);
  output(plan, 'a', scaleOp(plan, x));
  output(plan, 'b', scaleOp(plan, input(plan, 'x2', [77])));
  return plan;
};
// The fake clock: 'wrong' is the fastest by far, 'also-good' beats 'good'.
const clock = (v: string) => ({ good: 3, 'also-good': 2, wrong: 0.001 })[v] ?? 9;

const gpu = useGpu();

describe('autotuner safety', () => {
  it('never chooses a version whose output disagrees, even when it is the fastest', async () => {
    const r = await tuneOp(gpu(), TOY, { n: 1000 }, { warmup: 1, reps: 2, clock });
    console.log(formatTuneTable([r]));
    expect(r.choice).toBe('also-good');
    const byName = Object.fromEntries(r.candidates.map((c) => [c.version, c]));
    expect(byName.wrong!.status).toBe('rejected');
    expect(byName.wrong!.why).toMatch(/disagrees with the heuristic version: index \d+ got 0, want/);
    expect(byName.never).toMatchObject({ status: 'unavailable', why: 'needs a feature no device has' });
    expect(byName.good).toMatchObject({ status: 'timed', ms: 3 });
    expect(r.timing).toBe(gpu().features.timestamps ? 'timestamp-query' : 'wall-clock');
  });

  it("times by wall clock around the submit where the device has no 'timestamp-query'", async () => {
    const noTimestamps = { ...gpu(), features: { ...gpu().features, timestamps: false } };
    const r = await tuneOp(noTimestamps, TOY, { n: 1000 }, { warmup: 1, reps: 2 });
    console.log(formatTuneTable([r]));
    expect(r.timing).toBe('wall-clock');
    for (const c of r.candidates.filter((x) => x.status === 'timed')) expect(c.ms).toBeGreaterThan(0);
    expect(r.candidates.filter((c) => c.status === 'timed').map((c) => c.version)).toEqual(['good', 'also-good']);
  });

  it('keeps the heuristic unless another version is at least 2% faster', async () => {
    const close = await tuneOp(gpu(), TOY, { n: 1000 }, { warmup: 1, reps: 1, clock: (v) => (v === 'good' ? 3 : v === 'also-good' ? 2.95 : 0) });
    expect(close.choice).toBe('good');
    const clear = await tuneOp(gpu(), TOY, { n: 1000 }, { warmup: 1, reps: 1, clock: (v) => (v === 'good' ? 3 : v === 'also-good' ? 2.9 : 0) });
    expect(clear.choice).toBe('also-good');
  });

  it('times with the real clock when no fake one is given (the wrong version still loses)', async () => {
    const r = await tuneOp(gpu(), TOY, { n: 4099 }, { warmup: 1, reps: 3 });
    expect(['good', 'also-good']).toContain(r.choice);
    for (const c of r.candidates.filter((x) => x.status === 'timed')) expect(Number.isFinite(c.ms) && c.ms! >= 0).toBe(true); // lavapipe timestamps tick in ~65 µs steps: a tiny op can read 0
    expect(r.candidates.find((c) => c.version === 'wrong')!.status).toBe('rejected');
  });
});

describe('agreement between versions', () => {
  const want = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 30);
  const scaled = (f: number, at = 7) => want.map((x, i) => (i === at ? x * f : x));
  it('accepts one rounding step of the output dtype, rejects real errors and non-finite values', () => {
    expect(versionAgreement(scaled(1 + 1e-6), want, 'f32')).toBeNull();
    expect(versionAgreement(scaled(1 + 2 ** -10), want, 'f16')).toBeNull(); // one f16 ulp
    expect(versionAgreement(scaled(1 + 2 ** -7), want, 'bf16')).toBeNull(); // one bf16 ulp
    expect(versionAgreement(scaled(1.02), want, 'f32')).toMatch(/disagrees with the heuristic version: index 7/);
    expect(versionAgreement(scaled(1.02), want, 'f16')).toMatch(/index 7/);
    expect(versionAgreement(scaled(NaN), want, 'f32')).toBe('non-finite value NaN at index 7');
    expect(versionAgreement(new Float32Array(3), want, 'f32')).toBe("output has 3 values, the heuristic's 64");
  });
});

describe('tuning cache', () => {
  it('fast: times the op shapes a plan needs once; a second load with the cache times nothing', async () => {
    const store = memoryTuningStore();
    const timed: TuneResult[] = [];
    const opts: TuneOptions = { mode: 'fast', store, clock, onResult: (r) => timed.push(r) };
    const t1 = await openTuning(gpu(), [TOY], opts);
    const plan1 = await recordTuned(t1, recordToy(t1));
    expect(timed.map((r) => r.key).sort()).toEqual(['n1000', 'n77']);
    expect(plan1.versionLog!.map((c) => `${c.key} ${c.version} ${c.source}`)).toEqual(['n1000 also-good tuned', 'n77 also-good tuned']);
    const doc = JSON.parse(store.text!);
    expect(doc.format).toBe(TUNING_FORMAT);
    expect(Object.keys(doc.adapters[t1.adapter].entries).sort()).toEqual(['toy n1000', 'toy n77']);

    // A second load (default mode 'cache', and 'fast' too) reads the choices and times nothing.
    for (const mode of ['cache', 'fast'] as const) {
      const before = recorded;
      const t2 = await openTuning(gpu(), [TOY], { mode, store, onResult: (r) => timed.push(r) });
      const plan2 = await recordTuned(t2, recordToy(t2));
      expect(timed.length).toBe(2);
      expect(t2.timed.size).toBe(0);
      expect(recorded - before).toBe(2); // recorded once: no trial plans
      expect(plan2.versionLog!.every((c) => c.version === 'also-good' && c.source === 'tuned')).toBe(true);
    }
  });

  it("'off' neither reads nor uses the cache; 'full' times again", async () => {
    const store = memoryTuningStore();
    await recordTuned(await openTuning(gpu(), [TOY], { mode: 'fast', store, clock }), () => recordToy(undefined)());
    let reads = 0;
    const counting = { ...store, location: 'counting', read: async () => (reads++, store.text) };
    const off = await openTuning(gpu(), [TOY], { mode: 'off', store: counting });
    const plan = await recordTuned(off, recordToy(off));
    expect(reads).toBe(0);
    expect(plan.versionLog!.map((c) => c.source)).toEqual(['heuristic', 'heuristic']);
    const full = await openTuning(gpu(), [TOY], { mode: 'full', store, clock });
    await recordTuned(full, recordToy(full));
    expect([...full.timed].sort()).toEqual(['toy n1000', 'toy n77']);
  });

  it('ignores a corrupt cache with a warning and rewrites it', async () => {
    const store = memoryTuningStore('{"format": "internvit-webgpu tuning 1", "adapters": {"x": ');
    const warnings: string[] = [];
    const t = await openTuning(gpu(), [TOY], { mode: 'fast', store, clock, onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([expect.stringMatching(/tuning cache memory is not valid JSON .*ignored/)]);
    await recordTuned(t, recordToy(t));
    expect(JSON.parse(store.text!).adapters[t.adapter].entries['toy n77'].choice).toBe('also-good');
  });

  it('drops tampered entries: a rejected or unknown version in the file is never taken', async () => {
    const store = memoryTuningStore();
    const t = await openTuning(gpu(), [TOY], { mode: 'fast', store, clock });
    await recordTuned(t, recordToy(t));
    const doc = JSON.parse(store.text!);
    doc.adapters[t.adapter].entries['toy n77'].choice = 'wrong';
    doc.adapters[t.adapter].entries['toy n1000'].choice = 'bogus';
    const { doc: parsed, warnings } = parseTuning(JSON.stringify(doc), 'tampered', [TOY]);
    expect(warnings).toEqual(['tuning cache tampered: 2 malformed or unknown entries ignored']);
    expect(parsed.adapters[t.adapter]!.entries).toEqual({});
    for (const bad of ['[]', '{"format": "something else", "adapters": {}}', '"x"']) {
      expect(parseTuning(bad, 'f', [TOY]).warnings[0]).toMatch(/not an 'internvit-webgpu tuning 1' document/);
    }
  });
});

describe('the Node cache file', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('lives under XDG_CACHE_HOME (or ~/.cache), INTERNVIT_TUNING_CACHE overrides', async () => {
    expect(await tuningCachePath({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/internvit-webgpu/tuning.json');
    expect(await tuningCachePath({ XDG_CACHE_HOME: 'relative', HOME: '/h' })).toMatch(/\.cache\/internvit-webgpu\/tuning\.json$/);
    expect(await tuningCachePath({ INTERNVIT_TUNING_CACHE: '/t/c.json', XDG_CACHE_HOME: '/x' })).toBe('/t/c.json');
  });

  it('is written atomically (no temporary file left) and read back; a corrupt file only warns', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tuning-'));
    dirs.push(dir);
    const file = join(dir, 'sub', 'tuning.json');
    const store = fileStore(file);
    expect(await store.read()).toBeNull();
    const t = await openTuning(gpu(), [TOY], { mode: 'fast', store, clock });
    await recordTuned(t, recordToy(t));
    expect(await readdir(join(dir, 'sub'))).toEqual(['tuning.json']);
    const again = await openTuning(gpu(), [TOY], { store: fileStore(file) });
    expect(again.choices.get('toy n1000')).toBe('also-good');
    await writeFile(file, '\u0000garbage');
    const warnings: string[] = [];
    const broken = await openTuning(gpu(), [TOY], { store: fileStore(file), onWarning: (m) => warnings.push(m) });
    expect(broken.choices.size).toBe(0);
    expect(warnings[0]).toContain(`tuning cache ${file} is not valid JSON`);
    expect(await readFile(file, 'utf8')).toBe('\u0000garbage'); // 'cache' mode never writes
  });
});

describe('the matmul table', () => {
  it('times every available version of a ragged f32 matmul; all agree', async () => {
    const shape: MatmulShape = { M: 37, N: 40, K: 24, w: 'bf16', x: 'f32', y: 'f32', epilogue: 'gelu', residual: true, bias: true };
    const r = await tuneOp(gpu(), MATMUL_VERSIONS, shape, { warmup: 1, reps: 2 });
    console.log(formatTuneTable([r]));
    expect(r.candidates.map((c) => `${c.version} ${c.status}`)).toEqual(['tiled timed', 'tiled64 timed', 'tile32x128 timed', 'tile32x64 timed', 'tile128x128 timed', 'splitk unavailable', 'naive timed']);
  });

  // Packed weight codes (u32 words) get random words: a model with int8/int4 weights can be tuned.
  it('int8 and int4 weights: every tile version is timed and agrees on random codes', async () => {
    for (const w of ['int8', 'int4'] as const) {
      const shape: MatmulShape = { M: 37, N: 40, K: 72, w, x: 'f32', y: 'f32', epilogue: 'none', residual: false, bias: true, ...(w === 'int4' ? { groupSize: 32 } : {}) };
      const r = await tuneOp(gpu(), MATMUL_VERSIONS, shape, { warmup: 1, reps: 2 });
      console.log(formatTuneTable([r]));
      const statuses = r.candidates.map((c) => `${c.version} ${c.status}`);
      for (const v of ['tiled', 'tiled64', 'tile32x128', 'tile32x64', 'tile128x128']) expect(statuses, w).toContain(`${v} timed`);
    }
  });

  it('f16 activations: the tiled versions agree within the f16 tolerance; naive is unavailable', async (ctx) => {
    if (!gpu().features.shaderF16) skipTest(ctx, "the adapter has no 'shader-f16': f16 matmul versions cannot run here");
    const shape: MatmulShape = { M: 33, N: 20, K: 40, w: 'f16', x: 'f16', y: 'f16', epilogue: 'none', residual: false, bias: true };
    const r = await tuneOp(gpu(), MATMUL_VERSIONS, shape, { warmup: 1, reps: 2 });
    console.log(formatTuneTable([r]));
    expect(r.candidates.map((c) => `${c.version} ${c.status}`)).toEqual(['tiled timed', 'tiled64 timed', 'tile32x128 timed', 'tile32x64 timed', 'tile128x128 timed', 'splitk unavailable', 'naive unavailable']);
  });
});
