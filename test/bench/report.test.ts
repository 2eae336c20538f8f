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
      ['InternViT-300M-448px 448px B=1', undefined, undefined, 30],
      ['other', 'f32', 9, undefined],
    ]);
  });

  it('the summary table names the storage and gives each row its own ratio', () => {
    const md = summaryMarkdown(records);
    expect(md).toMatch(/\| gpu-script \| InternViT-300M-448px 448px B=1 \| f32 \| 10\.00 \/ 10\.00 \|.*\| 3\.00 \|/);
    expect(md).toMatch(/\| gpu-script \| InternViT-300M-448px 448px B=1 \| bf16 \| 8\.00 \/ 8\.00 \|.*\| 3\.75 \|/);
  });

  it('--weights: defaults per mode, validated', () => {
    const opts = (q: Record<string, string>) => parseOptions((k) => q[k], (k) => k in q);
    expect(opts({ quick: '1' }).weights).toEqual(['auto']);
    expect(opts({}).weights).toEqual(['f32', 'bf16']);
    expect(opts({ weights: 'f32,bf16,f16' }).weights).toEqual(['f32', 'bf16', 'f16']);
    expect(() => opts({ weights: 'int8' })).toThrow(/--weights: unknown weight storage 'int8' \(auto, f32, bf16, f16\)/);
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
