// The `dataset` suite (Node only): `internvit embed-dataset` end to end, as users run it (the built
// CLI, dist/internvit.js, in a child process with its decode worker threads), on generated PNG and
// JPEG images. One record per configuration: images/s, and the time split into decode (worker time),
// waiting for decode (the GPU starved), upload, GPU forward and writing, from the run's own
// accounting (DIR/shards/shard_0_of_1.json), so it is clear which side bounds the throughput.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateImagesOfSize, writeImages } from './dataset-images.js';
import type { BenchOptions, BenchRecord, Runner } from './types.js';

export interface DatasetSpec {
  images: number;
  /** Source image sizes are drawn in [min, max] pixels per side. */
  minSide: number;
  maxSide: number;
  size: number;
  batch: number;
  workers: number;
}

export const QUICK_DATASET: DatasetSpec = { images: 48, minSide: 200, maxSide: 500, size: 224, batch: 8, workers: 1 };
export const FULL_DATASET: DatasetSpec = { images: 2000, minSide: 300, maxSide: 1000, size: 448, batch: 32, workers: 8 };

interface ShardSummary {
  images: number;
  errors: number;
  imagesPerSecond: number;
  timings: { decodeMs: number; waitMs: number; uploadMs: number; gpuMs: number; writeMs: number; totalMs: number };
}

/** dist/internvit.js and its worker, built with `npm run build` when missing. */
function builtCli(repoRoot: string, log: (l: string) => void): string {
  const js = join(repoRoot, 'dist', 'internvit.js');
  if (!existsSync(js) || !existsSync(join(repoRoot, 'dist', 'dataset-worker.js'))) {
    log('dataset: building the CLI (npm run build)');
    const r = spawnSync('npm', ['run', '-s', 'build'], { cwd: repoRoot, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm run build failed: ${r.stderr || r.stdout}`);
  }
  return js;
}

export async function runDatasetSuite(ctx: {
  opts: BenchOptions; runner: Runner; repoRoot: string; model: { label: string; folder: string }; adapter: string; software: boolean;
  onRecord: (r: BenchRecord) => Promise<void>; log: (line: string) => void;
}): Promise<void> {
  const spec = ctx.opts.mode === 'quick' ? QUICK_DATASET : FULL_DATASET;
  const dir = mkdtempSync(join(tmpdir(), 'internvit-bench-dataset-'));
  const name = `embed-dataset ${ctx.model.label} clip ${spec.size}px B=${spec.batch} workers=${spec.workers}`;
  const base = {
    suite: 'dataset' as const, name, shape: `${spec.images} images (PNG + JPEG, ${spec.minSide}–${spec.maxSide} px a side)`,
    runtime: 'internvit-webgpu' as const, runner: ctx.runner, mode: ctx.opts.mode, adapter: ctx.adapter,
    adapter_type: (ctx.software ? 'software' : 'hardware') as BenchRecord['adapter_type'], dtype: 'f32' as const,
    gflops: null, runs: 1, date: new Date().toISOString(),
    timing: 'the command end to end (child process; model load and pipeline compilation included), per image',
  };
  try {
    const js = builtCli(ctx.repoRoot, ctx.log);
    ctx.log(`dataset: generating ${spec.images} images in ${dir}`);
    writeImages(join(dir, 'images'), generateImagesOfSize(spec.images, spec.minSide, spec.maxSide, 17));
    const out = join(dir, 'out');
    const args = [js, 'embed-dataset', '--model', ctx.model.folder, '--input', join(dir, 'images'), '--output', out, '--mode', 'clip',
      '--size', String(spec.size), '--batch', String(spec.batch), '--workers', String(spec.workers), '--progress-interval', '10'];
    ctx.log(`dataset: node ${args.join(' ')}`);
    const t = performance.now();
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const wallMs = performance.now() - t;
    if (r.status !== 0) throw new Error(`embed-dataset exited ${r.status ?? r.signal}: ${r.stderr.trim().split('\n').at(-1)}`);
    for (const line of r.stderr.trim().split('\n').slice(-3)) ctx.log(`dataset: ${line}`);
    const s = JSON.parse(readFileSync(join(out, 'shards', 'shard_0_of_1.json'), 'utf8')) as ShardSummary;
    if (s.images !== spec.images || s.errors !== 0) throw new Error(`embed-dataset embedded ${s.images} of ${spec.images} images with ${s.errors} errors`);
    const perImage = (ms: number) => ms / s.images;
    await ctx.onRecord({
      ...base, median_ms: wallMs / s.images, p90_ms: null,
      dataset: {
        images: s.images, images_per_s: s.imagesPerSecond, wall_ms: wallMs, workers: spec.workers, batch: spec.batch,
        decode_ms_per_image: perImage(s.timings.decodeMs), wait_ms_per_image: perImage(s.timings.waitMs),
        upload_ms_per_image: perImage(s.timings.uploadMs), gpu_ms_per_image: perImage(s.timings.gpuMs),
        write_ms_per_image: perImage(s.timings.writeMs),
      },
      note: `pipeline ${s.imagesPerSecond.toFixed(2)} images/s after the model load (the first batch's compilation included); per image: GPU forward ${perImage(s.timings.gpuMs).toFixed(1)} ms, ` +
        `decode ${perImage(s.timings.decodeMs).toFixed(1)} ms of worker time (${spec.workers} thread${spec.workers === 1 ? '' : 's'}), ` +
        `waiting for decode ${perImage(s.timings.waitMs).toFixed(1)} ms, upload ${perImage(s.timings.uploadMs).toFixed(2)} ms, writing ${perImage(s.timings.writeMs).toFixed(2)} ms`,
    });
  } catch (e) {
    await ctx.onRecord({ ...base, median_ms: null, p90_ms: null, error: (e as Error).message });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
