// `npm run bench:node [-- options]`: the benchmark suites in Node (Dawn), with onnxruntime-node's WebGPU
// execution provider as the peer in the same process, on the same adapter. Writes bench/results/.
//
//   --quick                 sizes for a software adapter on a CPU-only machine (internvit-tiny, small kernels)
//   --suites kernels,model  which suites (default both); `checks` runs every kernel check (src/kernels/*.check.ts, the
//                           selfcheck) on this adapter first: correctness on the hardware, printed, not timed;
//                           `dataset`: internvit embed-dataset end to end on generated images (bench/lib/dataset.ts)
//                           `soak`: --soak-forwards N (default 1000) forwards of mixed shapes through the API on
//                           (--soak-new-every N: every N-th one on an image size never seen before)
//                           models/internvit-tiny (or --model-dir tiny=DIR), host RSS and live GPU bytes at start
//                           and end. A run replaces only the records of the suites it ran.
//   --models 300M,6B        full mode: presets (random weights unless --model-dir gives a folder); tiny = models/internvit-tiny
//   --model-dir KEY=DIR     weights (+ model.onnx, pixels/expected files) for a model key, e.g. 300M=/tmp/m300
//   --sizes 224,448  --batches 1,8  --runs N  --warmup N  --kernels TEXT (name filter: cases whose name contains TEXT, or any of A|B|C)  --no-peer
//   --out DIR               where to write (default bench/results; merged with the other runner's records)
//   --fresh                 do not merge with the records already in DIR/latest.json
//   --append                keep this runner's records already in DIR/latest.json (add to them)
//   --include FILE          add the records of another JSON file (e.g. the GPU script's PyTorch records)
//   --runner NAME           label of the records (node, gpu-script)
//   --require-hardware      fail unless the adapter is a hardware GPU (the GPU script)
//   --peak-tflops N         the GPU's float32 peak: kernel records get the fraction of it they reach
//   --precision f32,f16,auto  our model runs per storage, one per distinct precision (default f32,auto:
//                           auto = f16 where the adapter has shader-f16, measured once with what it resolves to;
//                           f16 without shader-f16 is an error record). The peer runs once per precision: f32 on
//                           model[-S].onnx, f16 on model[-S]-fp16.onnx (reference/export_onnx.py --fp16)
//   --weights f32,bf16,f16  our model runs, one per storage of the linear weights (auto = as in the checkpoint;
//                           quick default auto, full default f32,bf16)
//   --tune fast|full        our model rows tuned on the device in the run ("… tuned", kernel versions timed
//                           with no cache), each with tuned_vs_heuristic against a heuristic run of the same
//                           configuration in this run (default off: the heuristic rows)
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describeGpu, destroyGpu, getGpu, type Gpu } from '../src/runtime/device.js';
import { runKernelSuite } from './lib/kernels.js';
import { runModelSuite, type ModelSpec, type Peer } from './lib/model.js';
import { runDatasetSuite } from './lib/dataset.js';
import { runSoakSuite } from './lib/soak.js';
import { ortWebGpuPeer } from './lib/peer-ort.js';
import { mergeResults, readResults, writeResults } from './lib/results.js';
import { formatRecord } from './lib/format.js';
import { loadCheckModules, printChecks } from '../src/kernels/check-suite.js';
import { parseOptions, type BenchRecord, type Runner } from './lib/types.js';

// Run from the repository root (npm scripts do; the GPU script cds there): the runner is bundled elsewhere.
const repoRoot = process.cwd();

// Every option the runner knows: an unknown one is an error, never silently ignored (a script passing
// an option this build lacks, e.g. --tune, must not record untuned numbers as tuned).
const KNOWN = new Set([
  'quick', 'suites', 'models', 'model-dir', 'sizes', 'batches', 'runs', 'warmup', 'kernel-runs', 'kernels', 'no-peer', 'weights',
  'precision', 'soak-forwards', 'soak-new-every', 'out', 'fresh', 'append', 'include', 'runner', 'require-hardware', 'peak-tflops',
  'tune',
]);

function parseArgs(argv: string[]): Map<string, string[]> {
  const args = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}' (options start with --)`);
    const [k, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (!KNOWN.has(k)) throw new Error(`unknown option '--${k}' (known: ${[...KNOWN].map((o) => `--${o}`).join(' ')})`);
    const takesValue = !['quick', 'no-peer', 'fresh', 'append', 'require-hardware'].includes(k);
    const v = inline ?? (takesValue ? argv[++i] : '1');
    if (v === undefined) throw new Error(`--${k} needs a value`);
    args.set(k, [...(args.get(k) ?? []), v]);
  }
  return args;
}

const PRESET_OF: Record<string, string> = { '300M': 'InternViT-300M-448px', '6B': 'InternViT-6B-448px-V1-5' };

function modelSpecs(models: string[], dirs: Map<string, string>): ModelSpec[] {
  return models.map((key) => {
    const shown = (dir: string) => (relative(repoRoot, dir).startsWith('..') ? dir : relative(repoRoot, dir));
    if (key === 'tiny') {
      const folder = resolve(dirs.get('tiny') ?? join(repoRoot, 'models/internvit-tiny'));
      return { key, label: 'internvit-tiny', folder, display: shown(folder) };
    }
    const preset = PRESET_OF[key];
    if (!preset) throw new Error(`--models: unknown model '${key}' (tiny, 300M, 6B)`);
    const folder = dirs.get(key);
    return folder ? { key, label: preset, folder: resolve(folder), display: shown(resolve(folder)) } : { key, label: preset, preset };
  });
}

/** onnxruntime-node with the WebGPU EP; loaded after our device so it sees the same VK_ICD_FILENAMES. */
async function nodePeer(gpu: Gpu): Promise<{ peer: Peer | null; error?: string }> {
  try {
    const ort = await import('onnxruntime-node');
    return {
      peer: ortWebGpuPeer(ort, 'onnxruntime-node', {
        note: `onnxruntime-node ${ort.env.versions?.common ?? ''}, its own built-in Dawn, same process and Vulkan driver (${process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES ?? 'system ICDs'}) as ours: ${gpu.adapter.software ? 'software' : 'hardware'} adapter`,
      }),
    };
  } catch (e) {
    return { peer: null, error: `onnxruntime-node could not be loaded: ${(e as Error).message}` };
  }
}

/** The record suites a run of these option suites writes (what its results replace). */
function recordSuites(suites: string[]): BenchRecord['suite'][] {
  const of: Record<string, BenchRecord['suite']> = { kernels: 'kernel', model: 'model', dataset: 'dataset', soak: 'soak' };
  return suites.flatMap((s) => (of[s] ? [of[s]] : []));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const one = (k: string) => args.get(k)?.at(-1);
  const opts = parseOptions(one, (k) => args.has(k));
  const runner = (one('runner') ?? 'node') as Runner;
  const outDir = resolve(one('out') ?? join(repoRoot, 'bench/results'));
  const dirs = new Map<string, string>();
  for (const v of (args.get('model-dir') ?? []).flatMap((s) => s.split(','))) {
    const [k, d] = v.split('=');
    if (!k || !d) throw new Error(`--model-dir: expected KEY=DIR, got '${v}'`);
    if (!existsSync(d)) throw new Error(`--model-dir: ${d} does not exist`);
    dirs.set(k, d);
  }
  const specs = modelSpecs(opts.models, dirs);
  const started = Date.now();

  const gpu = await getGpu();
  const adapterLine = describeGpu(gpu);
  console.log(`${adapterLine}\nmode ${opts.mode}: suites ${opts.suites.join(', ')}; runs ${opts.runs} (+${opts.warmup} warmup); weights ${opts.weights.join(', ')}; precision ${opts.precisions.join(', ')}`);
  if (args.has('require-hardware') && gpu.adapter.software) {
    destroyGpu(gpu);
    throw new Error(`--require-hardware: got a software adapter (${adapterLine}); is the GPU's Vulkan driver visible (VK_DRIVER_FILES / VK_ICD_FILENAMES, libvulkan.so.1)?`);
  }
  if (gpu.adapter.software && opts.mode === 'full') {
    console.log('warning: full-size benchmarks on a software adapter take hours; use --quick');
  }

  const peakTflops = one('peak-tflops') ? Number(one('peak-tflops')) : undefined;
  if (peakTflops !== undefined && !(peakTflops > 0)) throw new Error(`--peak-tflops: '${one('peak-tflops')}' is not a positive number`);
  const included: BenchRecord[] = [];
  for (const f of args.get('include') ?? []) {
    const json = JSON.parse(await readFile(f, 'utf8')) as { records?: BenchRecord[] } | BenchRecord[];
    included.push(...(Array.isArray(json) ? json : json.records ?? []));
  }
  const old = args.has('fresh') ? { runs: [], records: [] } : await readResults(join(outDir, 'latest.json'));
  const fresh: BenchRecord[] = [];
  // Results are rewritten after every record, so a crash or a timeout keeps what was measured.
  const save = () => writeResults(outDir, mergeResults(old, {
    runner, mode: opts.mode, command: `${runner === 'node' ? 'npm run bench:node --' : 'node bench-node.mjs'} ${process.argv.slice(2).join(' ')}`.trim(),
    seconds: (Date.now() - started) / 1000, adapter: adapterLine, suites: recordSuites(opts.suites),
    environment: `Node ${process.version}, Dawn (webgpu npm package); adapter shader-f16: ${gpu.features.shaderF16 ? 'yes' : 'no'}; precision ${opts.precisions.join(', ')}`,
    date: new Date(started).toISOString(),
  }, [...included, ...fresh], args.has('append')));
  const onRecord = async (r: BenchRecord) => {
    if (peakTflops && r.suite === 'kernel' && r.gflops) r.peak_fraction = r.gflops / (peakTflops * 1e3);
    fresh.push(r);
    console.log(formatRecord(r));
    await save();
  };
  try {
    if (opts.suites.includes('checks')) {
      // The kernel checks against their float64 CPU references, on this adapter: on a GPU, the
      // test suite's correctness claims checked on the hardware the timings come from.
      const s = await printChecks(gpu, await loadCheckModules(), (line) => console.log(line));
      console.log(`kernel checks on ${adapterLine.split('\n')[0]}: ${s.line}`);
    }
    if (opts.suites.includes('model')) {
      const { peer, error } = opts.peer ? await nodePeer(gpu) : { peer: null, error: undefined };
      await runModelSuite({ gpu, opts, runner, peer, peerError: error, onRecord, log: (l) => console.log(`… ${l}`) }, specs);
    }
    if (opts.suites.includes('kernels')) await runKernelSuite(gpu, opts, runner, onRecord);
    if (opts.suites.includes('dataset')) {
      const tiny = modelSpecs(['tiny'], dirs)[0]!;
      const model = specs.find((m) => m.folder) ?? tiny;
      await runDatasetSuite({ opts, runner, repoRoot, model: { label: model.label, folder: model.folder! }, adapter: adapterLine.split('\n')[0]!.replace(/^adapter: /, ''),
        software: gpu.adapter.software, onRecord, log: (l) => console.log(`… ${l}`) });
    }
    if (opts.suites.includes('soak')) {
      const folder = resolve(dirs.get('tiny') ?? join(repoRoot, 'models/internvit-tiny'));
      // A collection before each sample, so RSS and heap show what is retained, not what is pending.
      setFlagsFromString('--expose_gc');
      const gc = runInNewContext('gc') as () => void;
      const hostMemory = () => {
        gc();
        const m = process.memoryUsage();
        return { rss: m.rss, heap: m.heapUsed };
      };
      await runSoakSuite({ gpu, opts, runner, source: folder, label: 'internvit-tiny', hostMemory, onRecord, log: (l) => console.log(`… ${l}`) });
    }
  } finally {
    destroyGpu(gpu);
  }
  console.log(`wrote ${(await save()).join(', ')}`);

  const errors = fresh.filter((r) => r.error);
  if (errors.length) console.log(`${errors.length} measurement(s) recorded an error (see summary.md)`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
