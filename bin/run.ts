// The main job (`internvit`, `internvit run`, `npm start`): load a model, check it against reference
// outputs when its folder has them, time it, and show where the GPU time goes.
import { F16_COSINE_MIN, formatProfile, gflopsPerImage, InternViT, selectedLayer, tokenCosine, type HostOutput, type ModelConfig } from '../src/internal.js';
import { formatGflop, formatMs, intFlag, limitsFlag, now, parseFlags, precisionFlag, stringFlag, TUNE_USAGE, tuneFlag, weightsFlag, withGpu, type Io } from './cli.js';
import { checkPixelsForModel, checkpointLine, defaultModel, DEFAULT_MODEL, modelImageSize, openModel, readReference, REFERENCE_FILES, summarizeCheckpoint, type Pixels, type Reference } from './inputs.js';

export const RUN_USAGE = `run [--model M] [--runs N] [--weights W] [--precision P] [--tune T] [--limits L]
    the main job (also "internvit" with no command, and "npm start"): loads the model, checks its
    outputs against the reference outputs in its folder (${REFERENCE_FILES.pixels} +
    ${REFERENCE_FILES.expected}) when there are some, times loading, the first forward and the
    steady state, and prints the GPU time per kernel when the adapter has timestamp queries
    --model M   checkpoint folder, URL or Hugging Face id (default: the bundled ${DEFAULT_MODEL})
    --runs N    steady-state forwards to time (default 5)
    --weights W linear-layer weights on the GPU: auto (as in the checkpoint, default), f32, bf16, f16
    --precision P f32 (default, exact parity), f16 (f16 activations, f32 sums; needs shader-f16) or
                auto (f16 where available); with f16, parity is the per-token cosine ≥ ${F16_COSINE_MIN}
                and every value finite
    --limits L  device limits: adapter (the adapter's maxima, default) or default (WebGPU's defaults);
                env INTERNVIT_LIMITS sets the default
${TUNE_USAGE}`;

export const ATOL = 5e-4;
export const RTOL = 5e-4;

export interface Agreement {
  maxErr: number;
  /** Largest |got − want| / (atol + rtol·|want|): ≤ 1 passes. NaN or Infinity when an output is not finite. */
  worst: number;
}

export function agreement(got: Float32Array, want: Float32Array): Agreement {
  let maxErr = 0;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    const r = d / (ATOL + RTOL * Math.abs(want[i]!));
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : Math.max(worst, r);
    if (!(d <= maxErr)) maxErr = Number.isNaN(d) ? Infinity : Math.max(maxErr, d);
  }
  return { maxErr, worst };
}

const percent = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'not finite');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Deterministic pixels in the range normalized images have (no file needed). */
function randomPixels(shape: number[]): Pixels {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = (s / 4294967296) * 4 - 2;
  }
  return { data, shape };
}

/** Which expected tensors this runtime produces, and how: encoder hidden states or InternVL image tokens. */
function comparable(config: ModelConfig, expected: Map<string, unknown>): { encoder: Map<string, number | 'last' | 'pooler'>; tokens: boolean; ignored: string[] } {
  const encoder = new Map<string, number | 'last' | 'pooler'>();
  let tokens = false;
  const ignored: string[] = [];
  const L = config.vision.numLayers;
  for (const name of expected.keys()) {
    const h = /^hidden_states\.(\d+)$/.exec(name);
    if (name === 'last_hidden_state') encoder.set(name, 'last');
    else if (name === 'pooler_output') encoder.set(name, 'pooler');
    else if (h && Number(h[1]) <= L) encoder.set(name, Number(h[1]));
    else if (name === 'selected_hidden_state' && config.chat) encoder.set(name, selectedLayer(L, config.chat.selectLayer));
    else if (name === 'image_tokens' && config.chat) tokens = true;
    else ignored.push(name);
  }
  return { encoder, tokens, ignored };
}

async function parity(vit: InternViT, config: ModelConfig, ref: Extract<Reference, { pixels: Pixels }>, out: (line: string) => void): Promise<boolean> {
  const { encoder, tokens, ignored } = comparable(config, ref.expected);
  const f16 = vit.precision === 'f16';
  out(f16
    ? `parity vs ${ref.file} (precision f16: per-token cosine ≥ ${F16_COSINE_MIN}, every value finite):`
    : `parity vs ${ref.file} (tolerance ${ATOL} + ${RTOL}·|want|):`);
  const got = new Map<string, HostOutput>();
  const layers = [...new Set([...encoder.values()].filter((v): v is number => typeof v === 'number'))];
  if (encoder.size) {
    const r = await vit.embedPixels(ref.pixels.data, ref.pixels.shape, { hiddenStates: layers });
    const hidden = new Map(layers.sort((a, b) => a - b).map((l, i) => [l, r.hiddenStates![i]!]));
    for (const [name, what] of encoder) got.set(name, what === 'last' ? r.lastHiddenState : what === 'pooler' ? r.poolerOutput : hidden.get(what)!);
  }
  if (tokens) got.set('image_tokens', await vit.imageTokensFromPixels(ref.pixels.data, ref.pixels.shape));
  if (got.size === 0) {
    out(`  nothing to compare: ${ref.file} holds ${[...ref.expected.keys()].join(', ')}, none of which this model produces`);
    return false;
  }
  let worst = 0;
  let ok = true;
  const width = Math.max(...[...got.keys()].map((n) => n.length));
  const shapeWidth = Math.max(...[...got.values()].map((g) => g.shape.join(', ').length + 2));
  for (const [name, g] of got) {
    const want = ref.expected.get(name)!;
    if (g.shape.join() !== want.shape.join()) {
      out(`  ${name.padEnd(width)}  shape (${g.shape.join(', ')}), expected (${want.shape.join(', ')})  FAIL`);
      ok = false;
      continue;
    }
    if (f16) {
      const c = tokenCosine(g.data, want.data, want.shape[want.shape.length - 1]!);
      const pass = c.nonFinite === 0 && c.min >= F16_COSINE_MIN;
      if (!pass) ok = false;
      out(`  ${name.padEnd(width)}  ${`(${g.shape.join(', ')})`.padEnd(shapeWidth)}  min token cosine ${c.min.toFixed(7)}  ${c.nonFinite} non-finite${pass ? '' : '  FAIL'}`);
      continue;
    }
    const a = agreement(g.data, want.data);
    worst = Math.max(worst, a.worst);
    if (!(a.worst <= 1)) ok = false;
    out(`  ${name.padEnd(width)}  ${`(${g.shape.join(', ')})`.padEnd(shapeWidth)}  max |err| ${a.maxErr.toExponential(2)}  worst ${percent(a.worst).padStart(6)} of tolerance${a.worst <= 1 ? '' : '  FAIL'}`);
  }
  if (ignored.length) out(`  not compared (not outputs of this runtime): ${ignored.join(', ')}`);
  out(f16 ? `${ok ? 'PASS' : 'FAIL'}: ${got.size} outputs (precision f16)` : `${ok ? 'PASS' : 'FAIL'}: ${got.size} outputs, worst ${percent(worst)} of tolerance`);
  return ok;
}

export async function run(args: string[], io: Io): Promise<number> {
  const values = parseFlags('run', args, { model: { type: 'string' }, runs: { type: 'string' }, weights: { type: 'string' }, precision: { type: 'string' }, limits: { type: 'string' }, tune: { type: 'string' } });
  if (!values) {
    io.out(`usage: internvit ${RUN_USAGE}`);
    let where: string;
    try {
      where = defaultModel();
    } catch (e) {
      where = (e as Error).message;
    }
    io.out(`default model: ${where}`);
    return 0;
  }
  const spec = stringFlag(values, 'model') ?? defaultModel();
  const runs = intFlag(values, 'runs') ?? 5;
  const weightStorage = weightsFlag(values);
  const precision = precisionFlag(values);
  const limits = limitsFlag(values);
  const tune = tuneFlag(values, io);

  // Model and reference files are opened and checked before the GPU starts.
  const { ckpt, config } = await openModel(spec);
  let ref: Reference;
  const summary = summarizeCheckpoint(ckpt);
  try {
    ref = await readReference(ckpt.store);
  } finally {
    await ckpt.close();
  }
  if ('pixels' in ref) checkPixelsForModel(ref.pixels.shape, config, ref.file.replace(REFERENCE_FILES.expected, REFERENCE_FILES.pixels), config.chat !== null && ref.expected.has('image_tokens'));

  const out = (line = '') => io.out(line);
  return withGpu(io, async (gpu) => {
    const t0 = now();
    const vit = await InternViT.load(spec, { gpu, weightStorage, precision, tune });
    const loadMs = now() - t0;
    try {
      out(vit.describe());
      out(checkpointLine(ckpt.location, summary));
      out();

      const S = modelImageSize(config);
      const pixels = 'pixels' in ref ? ref.pixels : randomPixels([1, 3, S, S]);
      let t = now();
      await vit.embedPixels(pixels.data, pixels.shape);
      const firstMs = now() - t;
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        t = now();
        await vit.embedPixels(pixels.data, pixels.shape);
        times.push(now() - t);
      }

      let ok = true;
      if ('pixels' in ref) ok = await parity(vit, config, ref, out);
      else out(`parity: skipped (${ref.missing}); timing random pixels instead`);
      out();

      const [B, , H, W] = pixels.shape as [number, number, number, number];
      const med = median(times);
      const gflop = gflopsPerImage(config.vision, H, W) * B;
      const row = (label: string, value: string) => out(`  ${label.padEnd(43)} ${value}`);
      out(`timings, input (${pixels.shape.join(', ')})${'pixels' in ref ? '' : ', random pixels'}:`);
      row('load', formatMs(loadMs));
      row('first forward (incl. pipeline compilation)', formatMs(firstMs));
      row(`steady state, median of ${runs}`, `${formatMs(med)} (min ${formatMs(Math.min(...times))}, max ${formatMs(Math.max(...times))})`);
      row('throughput', `${((B * 1000) / med).toFixed(1)} images/s, ${formatGflop(gflop / (med / 1000))} GFLOP/s (${formatGflop(gflop)} GFLOP of matmuls per forward)`);
      out('  (forward = upload pixels, one submit, read back last_hidden_state and pooler_output)');
      out();

      if (gpu.features.timestamps) {
        // A separate plan with one compute pass per op; the second run is timed (the first compiles).
        await vit.embedPixels(pixels.data, pixels.shape, { profile: true });
        const r = await vit.embedPixels(pixels.data, pixels.shape, { profile: true });
        out('GPU time per kernel (timestamp queries, one pass per op, so slightly above the steady state):');
        out(formatProfile(r.profile ?? []));
      } else {
        out("GPU time per kernel: unavailable (this adapter has no 'timestamp-query' feature)");
      }
      return ok ? 0 : 1;
    } finally {
      vit.dispose();
    }
  }, limits);
}
