// Parity of whole-model outputs against the float64 PyTorch fixtures (reference/make_fixtures.py),
// shared by the Node tests (test/model/parity.test.ts, internvl.test.ts) and the browser page
// (test/browser/model-page), so both hold every fixture to the same comparison.
// Browser-safe: files come through `read`, the checkpoint as a folder path (Node) or URL prefix.
import type { Gpu } from '../../src/runtime/device.js';
import type { CheckpointStore } from '../../src/runtime/loader.js';
import { readSafetensorsFloat32 } from '../../src/runtime/safetensors.js';
import { disposeEncoder, encode, encoderFromWeights, loadEncoder, recordForward, type ForwardResult, type InternVitEncoder, type LoadEncoderOptions } from '../../src/model/internvit.js';
import { disposeInternVlVision, imageTokens, loadInternVlVision } from '../../src/model/internvl.js';
import { compare, type CheckResult } from '../../src/kernels/check-harness.js';
import { largestBinding, planFits, withLimits } from './lowered-limits.js';
import { F16_COSINE_MIN, tokenCosine, type Precision, type TokenCosine } from '../../src/model/precision.js';

export type FixtureKind = 'model' | 'internvl';

/** Fixture folders, relative to the repository root. */
export const FIXTURE_ROOTS: Record<FixtureKind, string> = {
  model: 'test/fixtures/model',
  internvl: 'test/fixtures/internvl',
};

export interface FixtureSource {
  kind: FixtureKind;
  name: string;
  /** The fixture folder as a checkpoint: a local path (Node) or a URL prefix (browser). */
  checkpoint: string | CheckpointStore;
  /** Bytes of a file of the fixture folder (pixels.safetensors, expected.safetensors). */
  read(file: string): Promise<Uint8Array>;
}

export interface FixtureResult {
  kind: FixtureKind;
  name: string;
  /** "model/f16", "internvl/v2-bf16": unique across kinds. */
  id: string;
  ok: boolean;
  /** One comparison per expected output that the model produced with the expected shape. */
  outputs: CheckResult[];
  /** Missing outputs, shape mismatches, or the error that stopped the fixture. */
  problems: string[];
  /** The output with the largest error relative to the tolerance (undefined if nothing was compared). */
  worst?: CheckResult;
  /** Largest |got − want| over all outputs (NaN if nothing was compared). */
  maxAbs: number;
  seconds: number;
  /** Passes of the micro-batching check (checkSplit), when the fixture's batch could be split. */
  splitPasses?: number[];
}

export const fixtureId = (kind: FixtureKind, name: string) => `${kind}/${name}`;

type Host = { data: Float32Array; shape: number[] };

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Compares every `expected` tensor that `keys` maps to a produced output. */
function compareOutputs(id: string, got: Map<string, Host>, expected: Map<string, Host>, keys: string[]): { outputs: CheckResult[]; problems: string[] } {
  const outputs: CheckResult[] = [];
  const problems: string[] = [];
  for (const key of keys) {
    const want = expected.get(key);
    const g = got.get(key);
    if (!want) problems.push(`${id}: expected.safetensors has no '${key}'`);
    else if (!g) problems.push(`${id}: the model produced no '${key}'`);
    else if (!sameShape(g.shape, want.shape)) problems.push(`${id} ${key}: shape [${g.shape.join(', ')}], expected [${want.shape.join(', ')}]`);
    else outputs.push(compare(`${id} ${key}`, g.data, want.data));
  }
  return { outputs, problems };
}

async function readTensors(src: FixtureSource, file: string): Promise<Map<string, Host>> {
  return readSafetensorsFloat32(await src.read(file), `${fixtureId(src.kind, src.name)}/${file}`);
}

async function pixelsOf(src: FixtureSource): Promise<Host> {
  const pixels = (await readTensors(src, 'pixels.safetensors')).get('pixel_values');
  if (!pixels) throw new Error(`${fixtureId(src.kind, src.name)}/pixels.safetensors has no 'pixel_values'`);
  return pixels;
}

/** An encoder result by the names of expected.safetensors. */
function modelOutputs(out: ForwardResult): Map<string, Host> {
  return new Map<string, Host>([
    ['last_hidden_state', out.lastHiddenState],
    ['pooler_output', out.poolerOutput],
    ...(out.hiddenStates ?? []).map((h, i) => [`hidden_states.${i}`, h] as const),
  ]);
}

/** InternViT: last_hidden_state, pooler_output and every hidden_states.i in expected.safetensors. */
async function checkModel(gpu: Gpu, src: FixtureSource, load: FixtureLoadOptions) {
  const id = fixtureId(src.kind, src.name);
  const pixels = await pixelsOf(src);
  const expected = await readTensors(src, 'expected.safetensors');
  const { encoder } = await loadEncoder(gpu, src.checkpoint, load);
  try {
    const out = await encode(encoder, pixels.data, pixels.shape, { hiddenStates: true });
    const got = modelOutputs(out);
    const r: ReturnType<typeof compareOutputs> & { splitPasses?: number[] } = compareOutputs(id, got, expected, [...expected.keys()]);
    if (pixels.shape[0]! > 1) {
      const split = await checkSplit(id, encoder, pixels, out);
      r.problems.push(...split.problems);
      r.splitPasses = split.passes;
    }
    return r;
  } finally {
    disposeEncoder(encoder);
  }
}

const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && new Uint32Array(a.buffer, a.byteOffset, a.length).every((x, i) => x === new Uint32Array(b.buffer, b.byteOffset, b.length)[i]);

/**
 * Micro-batching: the same batch on a view of the device with the lowest binding limit a single
 * image's plan fits must run in several passes and give the one-pass outputs bit for bit. Batches
 * that still fit whole at that limit (a weight is the largest binding) cannot be split: not checked.
 */
async function checkSplit(id: string, encoder: InternVitEncoder, pixels: Host, onePass: ForwardResult): Promise<{ problems: string[]; passes?: number[] }> {
  const limit = largestBinding(recordForward(encoder, [1, ...pixels.shape.slice(1)], []));
  const lowered = withLimits(encoder.gpu, { maxStorageBufferBindingSize: limit }, { shareCache: true });
  const view = encoderFromWeights(lowered, encoder.config, encoder.weights); // the same weights, its own plans
  if (planFits(recordForward(view, pixels.shape, []))) return { problems: [] };
  try {
    const split = await encode(view, pixels.data, pixels.shape, { hiddenStates: true });
    const problems: string[] = [];
    if (split.microBatches.length < 2) problems.push(`${id}: a ${limit}-byte binding limit did not split the batch (passes ${split.microBatches.join(', ')})`);
    const pairs: [string, Float32Array, Float32Array][] = [
      ['last_hidden_state', split.lastHiddenState.data, onePass.lastHiddenState.data],
      ['pooler_output', split.poolerOutput.data, onePass.poolerOutput.data],
      ...(onePass.hiddenStates ?? []).map((h, i) => [`hidden_states.${i}`, split.hiddenStates?.[i]?.data ?? new Float32Array(0), h.data] as [string, Float32Array, Float32Array]),
    ];
    for (const [name, a, b] of pairs) {
      if (!sameBits(a, b)) problems.push(`${id} ${name}: passes of ${split.microBatches.join(' + ')} differ from one pass`);
    }
    return { problems, passes: split.microBatches };
  } finally {
    view.plans.clear();
  }
}

/** InternVL: image_tokens (encoder up to select_layer → pixel shuffle → mlp1). */
async function checkInternVl(gpu: Gpu, src: FixtureSource) {
  const id = fixtureId(src.kind, src.name);
  const pixels = await pixelsOf(src);
  const expected = await readTensors(src, 'expected.safetensors');
  const { model, config } = await loadInternVlVision(gpu, src.checkpoint);
  try {
    const got = await imageTokens(model, pixels.data, pixels.shape);
    const r = compareOutputs(id, new Map([['image_tokens', got]]), expected, ['image_tokens']);
    // The comparison's name says which projector path it covers.
    for (const o of r.outputs) o.name += ` (${config.chat!.psVersion}, select_layer ${config.chat!.selectLayer})`;
    return r;
  } finally {
    disposeInternVlVision(model);
  }
}

/** Load options a model fixture may be checked with (the tuned-parity tests: `tune`). */
export type FixtureLoadOptions = Pick<LoadEncoderOptions, 'tune'>;

/** Runs one fixture and compares it; throws if it cannot run (see runFixture for a never-throwing one). */
export async function checkFixture(gpu: Gpu, src: FixtureSource, load: FixtureLoadOptions = {}): Promise<FixtureResult> {
  const t0 = performance.now();
  const { outputs, problems, splitPasses } = src.kind === 'model' ? await checkModel(gpu, src, load) : { ...(await checkInternVl(gpu, src)), splitPasses: undefined };
  const worst = outputs.reduce<CheckResult | undefined>((w, o) => (!w || o.worstRatio > w.worstRatio ? o : w), undefined);
  return {
    kind: src.kind, name: src.name, id: fixtureId(src.kind, src.name),
    ok: problems.length === 0 && outputs.length > 0 && outputs.every((o) => o.ok),
    outputs, problems, worst, maxAbs: outputs.length ? Math.max(...outputs.map((o) => o.maxAbs)) : NaN,
    seconds: (performance.now() - t0) / 1000,
    ...(splitPasses ? { splitPasses } : {}),
  };
}

/** checkFixture, with an error turned into a failed result, so one broken fixture does not stop the rest. */
export async function runFixture(gpu: Gpu, src: FixtureSource, load: FixtureLoadOptions = {}): Promise<FixtureResult> {
  const t0 = performance.now();
  try {
    return await checkFixture(gpu, src, load);
  } catch (e) {
    const id = fixtureId(src.kind, src.name);
    return {
      kind: src.kind, name: src.name, id, ok: false, outputs: [], maxAbs: NaN,
      problems: [`${id}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`],
      seconds: (performance.now() - t0) / 1000,
    };
  }
}

/** One line per fixture: max |err| over all outputs, and the worst output as % of the tolerance. */
export function formatFixture(r: FixtureResult): string {
  const head = `${r.ok ? 'ok  ' : 'FAIL'} ${r.id.padEnd(34)}`;
  const time = `${r.seconds.toFixed(1).padStart(5)} s`;
  if (!r.worst) return `${head} ${time}  ${r.problems.join('; ') || 'nothing compared'}`;
  const w = r.worst;
  const where = w.ok ? '' : ` at ${w.worst.index}: got ${w.worst.got}, want ${w.worst.want}`;
  return `${head} ${time}  max |err| ${r.maxAbs.toExponential(2)} over ${r.outputs.length} outputs; ` +
    `worst ${(100 * w.worstRatio).toFixed(1)}% of tolerance in ${w.name.slice(r.id.length + 1)}${where}` +
    (r.splitPasses ? `; micro-batching check: ${r.splitPasses.join(' + ')} passes` : '') +
    (r.problems.length ? `; ${r.problems.join('; ')}` : '');
}

/** "model/f16" → { kind, name }; throws on anything else (names travel in a URL). */
export function parseFixtureId(id: string): { kind: FixtureKind; name: string } {
  const m = /^(model|internvl)\/([A-Za-z0-9_.-]+)$/.exec(id);
  if (!m || m[2] === '.' || m[2] === '..') throw new Error(`'${id}' is not a fixture id (expected model/NAME or internvl/NAME)`);
  return { kind: m[1] as FixtureKind, name: m[2]! };
}

/** What a fixture's run at `precision` produced, with the reference and the keys to compare. */
async function produce(gpu: Gpu, src: FixtureSource, precision: Precision, load: CosineLoadOptions): Promise<{ got: Map<string, Host>; expected: Map<string, Host>; keys: string[] }> {
  const pixels = await pixelsOf(src);
  const expected = await readTensors(src, 'expected.safetensors');
  if (src.kind === 'model') {
    const { encoder } = await loadEncoder(gpu, src.checkpoint, { precision, ...load });
    try {
      const out = await encode(encoder, pixels.data, pixels.shape, { hiddenStates: true });
      return { got: modelOutputs(out), expected, keys: [...expected.keys()] };
    } finally {
      disposeEncoder(encoder);
    }
  }
  const { model } = await loadInternVlVision(gpu, src.checkpoint, { precision, ...load });
  try {
    const got = await imageTokens(model, pixels.data, pixels.shape);
    return { got: new Map([['image_tokens', got]]), expected, keys: ['image_tokens'] };
  } finally {
    disposeInternVlVision(model);
  }
}

/**
 * The accuracy contract of reduced precision (precision 'f16'): every output, every token, cosine
 * similarity to the float64 reference ≥ COSINE_MIN, and no non-finite value.
 */
export const COSINE_MIN = F16_COSINE_MIN;

export interface CosineOutput extends TokenCosine { name: string }

/** How the weights are loaded for a cosine check (quantized storage: test/model/quant-accuracy.test.ts). */
export type CosineLoadOptions = Pick<LoadEncoderOptions, 'weightStorage' | 'quantGroupSize'>;

export interface CosineFixtureResult {
  id: string;
  ok: boolean;
  precision: Precision;
  /** The weight storage loaded ('' = the default) and the cosine limit held to. */
  storage: string;
  min: number;
  outputs: CosineOutput[];
  problems: string[];
  /** The output with the smallest token cosine. */
  worst?: CosineOutput;
  seconds: number;
}

/** Runs one fixture at `precision` and compares every expected output token by token (cosine). */
export async function checkFixtureCosine(gpu: Gpu, src: FixtureSource, precision: Precision, load: CosineLoadOptions = {}, min = COSINE_MIN): Promise<CosineFixtureResult> {
  const t0 = performance.now();
  const id = fixtureId(src.kind, src.name);
  const p = await produce(gpu, src, precision, load);
  const outputs: CosineOutput[] = [];
  const problems: string[] = [];
  for (const key of p.keys) {
    const want = p.expected.get(key);
    const g = p.got.get(key);
    if (!want) problems.push(`${id}: expected.safetensors has no '${key}'`);
    else if (!g) problems.push(`${id}: the model produced no '${key}'`);
    else if (!sameShape(g.shape, want.shape)) problems.push(`${id} ${key}: shape [${g.shape.join(', ')}], expected [${want.shape.join(', ')}]`);
    else outputs.push({ name: key, ...tokenCosine(g.data, want.data, want.shape[want.shape.length - 1]!) });
  }
  const worst = outputs.reduce<CosineOutput | undefined>((w, o) => (!w || o.min < w.min ? o : w), undefined);
  return {
    id, precision, outputs, problems, worst, storage: load.weightStorage ?? '', min,
    ok: problems.length === 0 && outputs.length > 0 && outputs.every((o) => o.nonFinite === 0 && o.min >= min),
    seconds: (performance.now() - t0) / 1000,
  };
}

/** One line: the smallest token cosine and where, non-finite values, problems. */
export function formatCosineFixture(r: CosineFixtureResult): string {
  const head = `${r.ok ? 'ok  ' : 'FAIL'} ${r.precision}${r.storage ? ` ${r.storage} weights` : ''} ${r.id.padEnd(34)} ${r.seconds.toFixed(1).padStart(5)} s`;
  if (!r.worst) return `${head}  ${r.problems.join('; ') || 'nothing compared'}`;
  const nonFinite = r.outputs.reduce((n, o) => n + o.nonFinite, 0);
  return `${head}  min token cosine ${r.worst.min.toFixed(7)} (${r.worst.name}, token ${r.worst.worstRow} of ${r.worst.rows}) over ` +
    `${r.outputs.length} outputs (limit ${r.min}); ${nonFinite} non-finite` + (r.problems.length ? `; ${r.problems.join('; ')}` : '');
}
