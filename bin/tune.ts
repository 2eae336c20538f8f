// `internvit tune`: times every kernel version of every versioned op a forward of the model needs
// on this machine's device (src/runtime/tuner.ts), fills the per-adapter cache that later loads read,
// and prints the table: per op shape each candidate's time, or why it was rejected or unavailable.
import { formatTuneTable, InternViT, tuningKey, type TuneResult } from '../src/internal.js';
import {
  formatMs, intFlag, limitsFlag, LIMITS_USAGE, now, parseFlags, precisionFlag, PRECISION_USAGE, requireFlag, shapeText,
  tuneFlag, weightsFlag, WEIGHTS_USAGE, withGpu, type Io,
} from './cli.js';
import { checkPixelsForModel, checkpointLine, inspectModel, modelImageSize } from './inputs.js';

export const TUNE_USAGE_TEXT = `tune --model M [--size S] [--batch B] [--precision P] [--full]
    times every version of each kernel a forward of B images at S×S needs on this device (InternVL
    chat checkpoints: the image-token forward too), keeps the fastest one whose output agrees with
    the heuristic version's, caches the choices for this adapter (read by later loads: see --tune on
    embed, tokens and run) and prints every candidate's time or why it was rejected or unavailable
    --model M         checkpoint folder, URL, or Hugging Face id (org/name)
    --size S          image size (default: the model's)
    --batch B         images per forward (default 1)
    --full            time every op shape again with more runs (default: only shapes missing from the cache)
${WEIGHTS_USAGE}
${PRECISION_USAGE}
${LIMITS_USAGE}
    cache: $INTERNVIT_TUNING_CACHE, else $XDG_CACHE_HOME (or ~/.cache)/internvit-webgpu/tuning.json`;

export async function tune(args: string[], io: Io): Promise<number> {
  const values = parseFlags('tune', args, {
    model: { type: 'string' }, size: { type: 'string' }, batch: { type: 'string' }, full: { type: 'boolean' },
    precision: { type: 'string' }, weights: { type: 'string' }, limits: { type: 'string' },
  });
  if (!values) {
    io.out(`usage: internvit ${TUNE_USAGE_TEXT}`);
    return 0;
  }
  const modelSpec = requireFlag('tune', values, 'model', '<folder|url|org/name>');
  const batch = intFlag(values, 'batch') ?? 1;
  const precision = precisionFlag(values);
  const weightStorage = weightsFlag(values);
  const limits = limitsFlag(values);
  const tuneOpts = tuneFlag({ tune: values.full ? 'full' : 'fast' }, io);
  const model = await inspectModel(modelSpec);
  const size = intFlag(values, 'size') ?? modelImageSize(model.config);
  const shape = [batch, 3, size, size];
  const chat = model.config.chat !== null;
  checkPixelsForModel(shape, model.config, `--size ${size}`, chat);

  return withGpu(io, async (gpu) => {
    io.err(checkpointLine(model.location, model.checkpoint));
    const vit = await InternViT.load(modelSpec, { gpu, weightStorage, precision, tune: tuneOpts });
    try {
      const t = vit.tuning!;
      io.out(vit.describe().split('\n')[0]!);
      io.out(`tuning cache: ${t.store?.location ?? 'none (choices hold for this run only)'}`);
      io.out(`timing: ${gpu.features.timestamps ? 'timestamp queries (GPU time of the op)' : "wall clock around onSubmittedWorkDone (this adapter has no 'timestamp-query')"}; ` +
        `${values.full ? 'full: every op shape timed again' : 'fast: op shapes missing from the cache timed'}`);
      const pixels = new Float32Array(batch * 3 * size * size);
      const started = now();
      await vit.embedPixels(pixels, shape);
      if (chat) await vit.imageTokensFromPixels(pixels, shape);
      io.err(`tuned and compiled the ${chat ? 'encoder and image-token forwards' : 'forward'} of ${shapeText(shape)} in ${formatMs(now() - started)}`);
      const rows: TuneResult[] = [];
      const notes: string[] = [];
      for (const c of t.used.values()) {
        const k = tuningKey(c.kernel, c.key);
        const r = t.results.get(k);
        if (r) rows.push(r);
        else notes.push(`${k}: ${c.version} (${c.source}; ${c.source === 'explicit' ? 'named by the graph' : 'its kernel has no tuned table'})`);
      }
      io.out('');
      io.out(`${rows.length} op shape${rows.length === 1 ? '' : 's'} (* the choice; ${[...t.timed].length} timed now, the rest from the cache):`);
      io.out(formatTuneTable(rows));
      for (const n of notes) io.out(n);
      const changed = rows.filter((r) => r.choice !== r.heuristic).length;
      io.out(`${changed} of ${rows.length} op shapes use a version other than the heuristic's on this device`);
      return 0;
    } finally {
      vit.dispose();
    }
  }, limits);
}
