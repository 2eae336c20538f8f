// The benchmark report's pairing of records (no GPU): one row per weight storage of ours, each beside
// the peer and PyTorch of its configuration, and the options that choose the storages.
import { describe, expect, it } from 'vitest';
import { modelRows, summaryMarkdown } from '../../bench/lib/report.js';
import { parseOptions, type BenchRecord } from '../../bench/lib/types.js';

const rec = (runtime: BenchRecord['runtime'], median: number, extra: Partial<BenchRecord> = {}): BenchRecord => ({
  suite: 'model', name: 'InternViT-300M-448px 448px B=1', shape: '1×3×448×448', runtime, runner: 'gpu-script', mode: 'full',
  adapter: 'NVIDIA H100', adapter_type: 'hardware', dtype: 'f32', median_ms: median, p90_ms: median, gflops: null,
  timing: '', runs: 20, date: '2026-11-26T00:00:00Z', ...extra,
});

describe('benchmark report', () => {
  const records = [
    rec('internvit-webgpu', 10, { weights: 'f32' }),
    rec('onnxruntime-node', 30),
    rec('pytorch-cuda', 5),
    rec('internvit-webgpu', 8, { weights: 'bf16' }),
  ];

  it('one row per weight storage of ours, each with the peer and PyTorch of that configuration', () => {
    const rows = modelRows(records);
    expect(rows.map((r) => [r.weights, r.ours?.median_ms, r.peer?.median_ms, r.torch?.median_ms])).toEqual([
      ['f32', 10, 30, 5],
      ['bf16', 8, 30, 5],
    ]);
  });

  it('a peer without any of ours still gets its row; old records without `weights` count as f32', () => {
    const rows = modelRows([rec('onnxruntime-node', 30), rec('internvit-webgpu', 9, { name: 'other' })]);
    expect(rows.map((r) => [r.name, r.weights, r.ours?.median_ms, r.peer?.median_ms])).toEqual([
      ['other', 'f32', 9, undefined],
      ['InternViT-300M-448px 448px B=1', undefined, undefined, 30],
    ]);
  });

  it('the summary table names the storage and gives each row its own ratio', () => {
    const md = summaryMarkdown(records);
    expect(md).toMatch(/\| gpu-script \| InternViT-300M-448px 448px B=1 \| f32 \| f32 \| 10\.00 \/ 10\.00 \|.*\| 3\.00 \|/);
    expect(md).toMatch(/\| gpu-script \| InternViT-300M-448px 448px B=1 \| bf16 \| f32 \| 8\.00 \/ 8\.00 \|.*\| 3\.75 \|/);
  });

  // Precision f16 and auto beside f32: ours at f16 pairs with the peer's fp16 run, and every row shows
  // all PyTorch anchors (f32, TF32, bf16 autocast), the f16 row's chart anchor being bf16.
  const agree = (cosine?: number) => [{ against: 'internvit-webgpu (same run)', maxAbs: 0.01, rel: 2e-3, ok: true, ...(cosine ? { cosine } : {}) }];
  const mixed = [
    rec('internvit-webgpu', 10, { weights: 'bf16', precision_asked: ['f32'] }),
    rec('internvit-webgpu', 6, { weights: 'bf16', dtype: 'f16', precision: 'f16', precision_asked: ['f16', 'auto'] }),
    rec('onnxruntime-node', 30, { agreement: agree() }),
    rec('onnxruntime-node', 20, { dtype: 'f16', agreement: agree(0.99987) }),
    rec('pytorch-cuda', 5),
    rec('pytorch-cuda', 1.5, { dtype: 'bf16' }),
    rec('pytorch-cuda', 2.5, { dtype: 'tf32' }),
  ];

  it('f16 rows: the fp16 peer beside ours at f16, the f32 peer beside f32; anchors ordered f32, TF32, bf16', () => {
    const rows = modelRows(mixed);
    expect(rows.map((r) => [r.weights, r.compute, r.ours?.median_ms, r.peer?.median_ms, r.torch?.dtype, r.anchors.map((a) => a.dtype)])).toEqual([
      ['bf16', 'f32', 10, 30, 'f32', ['f32', 'tf32', 'bf16']],
      ['bf16', 'f16 (auto)', 6, 20, 'bf16', ['f32', 'tf32', 'bf16']],
    ]);
    const md = summaryMarkdown(mixed);
    expect(md).toContain('| gpu-script | InternViT-300M-448px 448px B=1 | bf16 | f16 (auto) | 6.00 / 6.00 | – | onnxruntime-node fp16 | 20.00 / 20.00 | – | 3.33 | yes (min token cos 0.999870, rel 2.0e-3) | f32 5.00 · TF32 2.50 · bf16 autocast 1.50 |');
    expect(md).toContain('| gpu-script | InternViT-300M-448px 448px B=1 | bf16 | f32 | 10.00 / 10.00 | – | onnxruntime-node | 30.00 / 30.00 | – | 3.00 | yes (2.0e-3) | f32 5.00 · TF32 2.50 · bf16 autocast 1.50 |');
  });

  it('an fp16 peer that could not run keeps its own row with the reason; anchors alone get a row', () => {
    const noF16 = rec('onnxruntime-web', 0, { runner: 'browser', dtype: 'f16', median_ms: null, error: "fp16 not run: the adapter has no 'shader-f16'" });
    const rows = modelRows([rec('internvit-webgpu', 9, { runner: 'browser', precision_asked: ['f32', 'auto'] }), noF16, rec('pytorch-cuda', 5, { name: 'torch only' })]);
    expect(rows.map((r) => [r.runner, r.name, r.compute, r.peer?.error, r.anchors.length])).toEqual([
      ['browser', 'InternViT-300M-448px 448px B=1', 'f32 (auto)', undefined, 0],
      ['browser', 'InternViT-300M-448px 448px B=1 f16', undefined, "fp16 not run: the adapter has no 'shader-f16'", 0],
      ['gpu-script', 'torch only', undefined, undefined, 1],
    ]);
    expect(summaryMarkdown([noF16])).toMatch(/\*\*error\*\* browser onnxruntime-web InternViT-300M-448px 448px B=1: fp16 not run: the adapter has no 'shader-f16'/);
  });

  it('kernel rows say how much of the output was checked before timing, and a failed check is marked', () => {
    const k = (name: string, worstRatio: number, extra: Partial<BenchRecord> = {}) => rec('internvit-webgpu', 1, {
      suite: 'kernel', name, shape: 'M=1 K=2 N=3', check: { samples: 128, maxAbs: 1e-5, worstRatio, atol: 5e-4, rtol: 5e-4 }, ...extra,
    });
    const md = summaryMarkdown([k('matmul good', 0.031), k('matmul bad', 3.2, { median_ms: null, error: 'FAILED the output check, not timed: FAIL …' })]);
    expect(md).toContain('| gpu-script | internvit-webgpu | matmul good | M=1 K=2 N=3 | 128 (3.1%) | 1.000 |');
    expect(md).toContain('| gpu-script | internvit-webgpu | matmul bad | M=1 K=2 N=3 | **FAILED** 128 (320%) | error (below) |');
  });

  it('--precision: default f32 and auto, validated', () => {
    const opts = (q: Record<string, string>) => parseOptions((k) => q[k], (k) => k in q);
    expect(opts({ quick: '1' }).precisions).toEqual(['f32', 'auto']);
    expect(opts({}).precisions).toEqual(['f32', 'auto']);
    expect(opts({ precision: 'f16' }).precisions).toEqual(['f16']);
    expect(() => opts({ precision: 'f8' })).toThrow(/--precision: unknown precision 'f8' \(f32, f16, auto\)/);
  });

  it('--weights: defaults per mode, validated', () => {
    const opts = (q: Record<string, string>) => parseOptions((k) => q[k], (k) => k in q);
    expect(opts({ quick: '1' }).weights).toEqual(['auto']);
    expect(opts({}).weights).toEqual(['f32', 'bf16', 'int8', 'int4']);
    expect(opts({ weights: 'f32,bf16,f16' }).weights).toEqual(['f32', 'bf16', 'f16']);
    expect(() => opts({ weights: 'int3' })).toThrow(/--weights: unknown weight storage 'int3' \(auto, f32, bf16, f16, int8, int4\)/);
  });

  it('dataset records get their own table: images/s and the per-image split', () => {
    const d = rec('internvit-webgpu', 50, {
      suite: 'dataset', name: 'embed-dataset tiny clip 224px B=8 workers=1', median_ms: 2395, p90_ms: null,
      dataset: { images: 48, images_per_s: 0.42, wall_ms: 115_000, workers: 1, batch: 8, decode_ms_per_image: 88.2, wait_ms_per_image: 22.2, upload_ms_per_image: 0.76, gpu_ms_per_image: 2338, write_ms_per_image: 1.91 },
    });
    const md = summaryMarkdown([d, rec('internvit-webgpu', 1, { suite: 'dataset', name: 'broken', error: 'exit 1' })]);
    expect(md).toContain('## Dataset (`internvit embed-dataset` end to end)');
    expect(md).toContain('| gpu-script | embed-dataset tiny clip 224px B=8 workers=1 | 48 | 0.42 | 2395 | 2338 | 88.2 (1) | 22.2 | 0.76 | 1.91 |');
    expect(md).toMatch(/\| gpu-script \| broken \| error \(below\)/);
    expect(md).toMatch(/\*\*error\*\* gpu-script internvit-webgpu broken: exit 1/);
    expect(() => parseOptions((k) => (k === 'suites' ? 'dataset,model' : undefined), () => false)).not.toThrow();
  });
});
