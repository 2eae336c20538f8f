// Markdown summary and SVG charts from benchmark records. Plain strings: the page shows the same
// charts (innerHTML) that the runners write to bench/results/.
import { checkText } from './format.js';
import type { BenchRecord } from './types.js';

const fmt = (v: number | null | undefined, digits = 2): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '–'
    : v >= 1000 ? v.toFixed(0) : v >= 100 ? v.toFixed(1) : v > 0 && v < 1 && digits < 3 ? v.toPrecision(2) : v.toFixed(digits);
const mib = (b?: number) => (b === undefined ? '–' : (b / 2 ** 20).toFixed(1));
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const cellText = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

const PEERS = new Set(['onnxruntime-web', 'onnxruntime-node']);

type ModelRow = {
  key: string; runner: string; name: string;
  /** Ours: how the linear weights are stored; `compute`: the arithmetic, "(auto)" when 'auto' resolved to it. */
  weights?: string; compute?: string;
  ours?: BenchRecord; peer?: BenchRecord;
  /** The PyTorch anchor of the row's arithmetic class (f32 rows: strict f32; f16 rows: bf16 autocast). */
  torch?: BenchRecord;
  /** Every PyTorch anchor of the configuration: f32, TF32, bf16 autocast. */
  anchors: BenchRecord[];
};

const ANCHOR_ORDER = ['f32', 'tf32', 'bf16', 'f16'];
const ANCHOR_LABEL: Record<string, string> = { f32: 'f32', tf32: 'TF32', bf16: 'bf16 autocast', f16: 'f16' };
const isHalf = (dtype: string) => dtype === 'f16' || dtype === 'bf16';

/**
 * Model records grouped by configuration (runner, name): one row per weight storage and precision of
 * ours, each beside the ONNX Runtime peer of the same arithmetic (f32, or the fp16 export for f16 rows)
 * and the PyTorch anchors of that configuration (measured once, shown on every row). A peer without a
 * row of ours of its arithmetic, or anchors without any of ours, get rows of their own.
 */
export function modelRows(records: BenchRecord[]): ModelRow[] {
  const models = records.filter((x) => x.suite === 'model');
  const config = (r: BenchRecord) => `${r.runner}|${r.name}`;
  const label = (r: BenchRecord) => (r.dtype === 'f32' ? r.name : `${r.name} ${r.dtype}`);
  const peers = new Map<string, BenchRecord>();
  const anchors = new Map<string, BenchRecord[]>();
  for (const r of models) {
    if (PEERS.has(r.runtime)) peers.set(`${config(r)}|${r.dtype}`, r);
    else if (r.runtime !== 'internvit-webgpu') anchors.set(config(r), [...(anchors.get(config(r)) ?? []), r]);
  }
  for (const list of anchors.values()) list.sort((a, b) => ANCHOR_ORDER.indexOf(a.dtype) - ANCHOR_ORDER.indexOf(b.dtype));
  const anchorFor = (list: BenchRecord[], dtype: string) => list.find((a) => isHalf(a.dtype) === isHalf(dtype));

  const rows = new Map<string, ModelRow>();
  const oursDtypes = new Set<string>();
  const oursConfigs = new Set<string>();
  for (const r of models.filter((x) => x.runtime === 'internvit-webgpu')) {
    const compute = `${r.dtype}${r.precision_asked?.includes('auto') ? ' (auto)' : ''}`;
    const weights = r.weights ?? 'f32';
    const key = `${config(r)}|${weights}|${compute}`;
    const list = anchors.get(config(r)) ?? [];
    rows.set(key, { key, runner: r.runner, name: r.name, weights, compute, ours: r, peer: peers.get(`${config(r)}|${r.dtype}`), torch: anchorFor(list, r.dtype), anchors: list });
    oursDtypes.add(`${config(r)}|${r.dtype}`);
    oursConfigs.add(config(r));
  }
  for (const [key, p] of peers) {
    if (oursDtypes.has(key)) continue;
    const list = anchors.get(config(p)) ?? [];
    rows.set(key, { key, runner: p.runner, name: label(p), peer: p, torch: anchorFor(list, p.dtype), anchors: list });
    oursConfigs.add(config(p));
  }
  for (const [key, list] of anchors) {
    if (!oursConfigs.has(key)) rows.set(key, { key, runner: list[0]!.runner, name: list[0]!.name, torch: list[0], anchors: list });
  }
  return [...rows.values()];
}

function agreementText(r?: BenchRecord): string {
  const a = r?.agreement?.find((x) => x.against.startsWith('internvit-webgpu'));
  if (!a) return '–';
  const how = a.cosine !== undefined ? `min token cos ${a.cosine.toFixed(6)}, rel ${a.rel.toExponential(1)}` : a.rel.toExponential(1);
  return `${a.ok ? 'yes' : '**NO**'} (${how})`;
}

/** "f32 5.00 · TF32 2.10 · bf16 autocast 1.20" (ms), or – without anchors. */
function anchorsText(list: BenchRecord[]): string {
  return list.length ? list.map((a) => `${ANCHOR_LABEL[a.dtype] ?? a.dtype} ${a.error ? 'error' : fmt(a.median_ms)}`).join(' · ') : '–';
}

export function summaryMarkdown(records: BenchRecord[], header: string[] = []): string {
  const lines: string[] = ['# internvit-webgpu benchmark results', '', ...header];
  const adapters = [...new Set(records.map((r) => `${r.adapter} (${r.adapter_type}; ${r.runner})`))];
  lines.push(`Adapters: ${adapters.join('; ') || 'none'}.`, '');
  if (records.some((r) => r.adapter_type === 'software')) {
    lines.push('> **Software adapter numbers** (SwiftShader or lavapipe, on the CPU): they check that the suite, our runtime and the',
      '> peer run, and how we compare on the same adapter. They say nothing about speed on a GPU.', '');
  }
  const dates = records.map((r) => r.date).sort();
  if (dates.length) lines.push(`Measured ${dates[0]!.slice(0, 16).replace('T', ' ')} – ${dates[dates.length - 1]!.slice(0, 16).replace('T', ' ')} UTC.`, '');

  const mrows = modelRows(records);
  if (mrows.length) {
    lines.push('## Model: ours vs the ONNX Runtime WebGPU EP (same weights, same pixels, same adapter)', '',
      'Wall clock per forward, pixels in and `last_hidden_state` out on the host. "peer ÷ ours" > 1: we are faster.',
      '"weights": how our linear layers\' weights are stored on the GPU. "compute": our arithmetic (precision f16: f16 activations and matmul/attention operands, f32 sums and norm/softmax statistics; "(auto)": what precision \'auto\' chose on this adapter). ' +
      'The peer runs the same arithmetic: the f32 ONNX export on f32 rows, its fp16 export (fp16 weights and activations, f32 input and output) on f16 rows. ' +
      'PyTorch CUDA: eager f32 (TF32 off), TF32 matmuls, and bf16 autocast, all on the same module.', '',
      '| runner | model | weights | compute | ours median / p90 ms | ours first run ms | peer | peer median / p90 ms | peer first run ms | peer ÷ ours | outputs agree | PyTorch CUDA ms | GFLOP/s (ours) | dispatches / submits | peak GPU MiB |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const row of mrows) {
      const o = row.ours;
      const p = row.peer;
      const ratio = o?.median_ms && p?.median_ms ? (p.median_ms / o.median_ms).toFixed(2) : '–';
      const oursTime = o ? (o.error ? `error (below)` : `${fmt(o.median_ms)} / ${fmt(o.p90_ms)}`) : '–';
      const peerTime = p ? (p.error ? 'error (below)' : `${fmt(p.median_ms)} / ${fmt(p.p90_ms)}`) : '–';
      const peerName = p ? `${p.runtime}${p.dtype === 'f16' ? ' fp16' : ''}` : '–';
      lines.push(`| ${row.runner} | ${row.name} | ${row.weights ?? '–'} | ${row.compute ?? '–'} | ${oursTime} | ${fmt(o?.first_run_ms, 0)} | ${peerName} | ${peerTime} | ${fmt(p?.first_run_ms, 0)} | ${ratio} | ${agreementText(p)} | ${anchorsText(row.anchors)} | ${fmt(o?.gflops, 1)} | ${o?.dispatches ?? '–'} / ${o?.submits ?? '–'} | ${mib(o?.peak_gpu_bytes)} |`);
    }
    lines.push('');
    const refs = records.filter((r) => r.suite === 'model' && r.agreement?.some((a) => a.against.startsWith('reference')));
    if (refs.length) {
      lines.push('Against the reference outputs (float64 PyTorch for internvit-tiny, PyTorch CUDA f32 on the GPU run):', '');
      for (const r of refs) {
        for (const a of r.agreement!.filter((x) => x.against.startsWith('reference'))) {
          const cos = a.cosine !== undefined ? `, min token cosine ${a.cosine.toFixed(6)}${a.ok ? '' : ' **below the f16 contract**'}` : '';
          lines.push(`- ${r.runner} ${r.runtime} ${r.name}${r.weights ? ` (${r.weights} weights)` : ''}${r.dtype !== 'f32' ? `, ${r.dtype} compute` : ''}: max|Δ| ${a.maxAbs.toExponential(2)}, relative ${a.rel.toExponential(2)}${cos} (${a.against.replace(/^reference /, '')})`);
        }
      }
      lines.push('');
    }
    for (const r of records.filter((x) => x.suite === 'model' && x.profile?.length)) {
      const total = r.gpu_ms ?? r.profile!.reduce((a, p) => a + p.ms, 0);
      lines.push(`### Per-op GPU time: ${r.name}${r.weights ? `, ${r.weights} weights` : ''}${r.precision === 'f16' ? ', f16 compute' : ''} (${r.runner}, timestamp queries, one forward: ${fmt(total)} ms GPU vs ${fmt(r.median_ms)} ms wall)`, '',
        '| kernel | calls | GPU ms | share | GFLOP/s |', '|---|---|---|---|---|');
      for (const p of r.profile!.slice(0, 10)) {
        lines.push(`| ${p.kernel} | ${p.calls} | ${fmt(p.ms, 3)} | ${((100 * p.ms) / (total || 1)).toFixed(1)}% | ${fmt(p.gflops, 1)} |`);
      }
      lines.push('');
    }
  }

  const kernels = records.filter((r) => r.suite === 'kernel');
  if (kernels.length) {
    const peak = kernels.some((r) => r.peak_fraction);
    lines.push('## Kernels (one dispatch at a time)', '',
      'Each case of ours is run once and a sample of its output checked against the CPU reference before it is timed ("checked": elements, worst error as a share of the tolerance); a miss is an error, never a time.', '',
      `| runner | runtime | kernel | shape | checked | median ms | p90 ms | GFLOP/s | GB/s |${peak ? ' % of f32 peak |' : ''} timing |`,
      `|---|---|---|---|---|---|---|---|---|${peak ? '---|' : ''}---|`);
    for (const r of kernels) {
      const pk = peak ? ` ${r.peak_fraction ? `${(100 * r.peak_fraction).toFixed(0)}%` : '–'} |` : '';
      const checked = r.check ? checkText(r.check, '**FAILED**') : '–';
      lines.push(`| ${r.runner} | ${r.runtime} | ${r.name} | ${cellText(r.shape)} | ${checked} | ${r.error ? 'error (below)' : fmt(r.median_ms, 3)} | ${fmt(r.p90_ms, 3)} | ${fmt(r.gflops, 1)} | ${fmt(r.gbps, 1)} |${pk} ${r.timing} |`);
    }
    lines.push('');
  }

  const datasets = records.filter((r) => r.suite === 'dataset');
  if (datasets.length) {
    lines.push('## Dataset (`internvit embed-dataset` end to end)', '',
      'Per image: wall clock of the whole command (load and compilation included), then the run\'s own split: GPU forward, decode work in the worker threads, the GPU waiting for decode, upload, writing.', '',
      '| runner | configuration | images | images/s (pipeline) | wall ms | GPU ms | decode ms (threads) | waiting for decode ms | upload ms | write ms |',
      '|---|---|---|---|---|---|---|---|---|---|');
    for (const r of datasets) {
      const d = r.dataset;
      lines.push(r.error || !d ? `| ${r.runner} | ${r.name} | error (below) | | | | | | | |`
        : `| ${r.runner} | ${r.name} | ${d.images} | ${fmt(d.images_per_s)} | ${fmt(r.median_ms, 1)} | ${fmt(d.gpu_ms_per_image, 1)} | ${fmt(d.decode_ms_per_image, 1)} (${d.workers}) | ${fmt(d.wait_ms_per_image, 1)} | ${fmt(d.upload_ms_per_image, 2)} | ${fmt(d.write_ms_per_image, 2)} |`);
    }
    lines.push('');
  }

  lines.push(...soakSection(records));

  const notes = records.filter((r) => r.error || (r.note && r.suite === 'model'));
  if (notes.length) {
    lines.push('## Errors and notes', '');
    for (const r of notes) {
      lines.push(`- ${r.error ? '**error** ' : ''}${r.runner} ${r.runtime} ${r.name}: ${cellText(r.error ?? r.note!)}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** Soak runs: memory at the start (after a warm-up pass over every shape) and after the last forward. */
function soakSection(records: BenchRecord[]): string[] {
  const soaks = records.filter((r) => r.suite === 'soak');
  if (!soaks.length) return [];
  const lines = ['## Soak: consecutive forwards of mixed shapes (memory must stay flat)', '',
    'Host memory right after a forced garbage collection; GPU: live buffers made by the runtime (weights included). ' +
    'Every output is compared bit for bit with the first run of its shape; a mismatch counts as an error.', '',
    '| runner | model | forwards | shapes (+ new sizes) | errors | median / p90 ms | host RSS start → end MiB | JS heap start → end MiB | GPU live start → end (peak) MiB | buffers made while soaking |',
    '|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of soaks) {
    const s = r.soak;
    if (!s) {
      lines.push(`| ${r.runner} | ${r.name} | – | – | error (below) | – | – | – | – | – |`);
      continue;
    }
    const span = (a: number, b: number) => `${mib(a)} → ${mib(b)}`;
    lines.push(`| ${r.runner} | ${r.name} | ${s.forwards} | ${s.shapes}${s.fresh_sizes ? ` (+${s.fresh_sizes})` : ''} | ${s.errors} | ${fmt(r.median_ms)} / ${fmt(r.p90_ms)} | ${span(s.start.rss, s.end.rss)} | ` +
      `${span(s.start.heap, s.end.heap)} | ${span(s.start.gpu_live, s.end.gpu_live)} (${mib(s.gpu_peak)}) | ${s.buffers_created} |`);
  }
  lines.push('');
  for (const r of soaks.filter((x) => x.note)) lines.push(`- ${r.runner} ${r.name}: ${cellText(r.note!)}`);
  return [...lines, ''];
}

interface Bar { series: string; value: number | null }
interface BarRow { label: string; bars: Bar[] }

const COLORS: Record<string, string> = {
  'internvit-webgpu': '#2f6fdf', 'onnxruntime-web': '#c2410c', 'onnxruntime-node': '#e07b28', 'pytorch-cuda': '#4a9a4a',
};

/** Horizontal grouped bars; values ≤ 0 or null are drawn as "n/a". */
export function barChartSvg(title: string, unit: string, rows: BarRow[]): string {
  const series = [...new Set(rows.flatMap((r) => r.bars.map((b) => b.series)))];
  const labelW = 330;
  const plotW = 420;
  const barH = 14;
  const groupH = series.length * barH + 10;
  const top = 48;
  const height = top + rows.length * groupH + 24;
  const max = Math.max(1e-9, ...rows.flatMap((r) => r.bars.map((b) => b.value ?? 0)));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + plotW + 110}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  series.forEach((s, i) => {
    const x = labelW + i * 150;
    out.push(`<rect x="${x}" y="30" width="10" height="10" fill="${COLORS[s] ?? '#888'}"/><text x="${x + 14}" y="39">${esc(s)}</text>`);
  });
  rows.forEach((row, i) => {
    const y0 = top + i * groupH;
    out.push(`<text x="${labelW - 8}" y="${y0 + groupH / 2 + 2}" text-anchor="end">${esc(row.label)}</text>`);
    series.forEach((s, j) => {
      const b = row.bars.find((x) => x.series === s);
      if (!b) return;
      const y = y0 + j * barH;
      if (b.value === null || !(b.value > 0)) {
        out.push(`<text x="${labelW + 4}" y="${y + barH - 3}" fill="#999">n/a</text>`);
        return;
      }
      const w = Math.max(1, (b.value / max) * plotW);
      out.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${COLORS[s] ?? '#888'}"/>`,
        `<text x="${labelW + w + 4}" y="${y + barH - 3}">${esc(fmt(b.value))} ${esc(unit)}</text>`);
    });
  });
  out.push(`<line x1="${labelW}" y1="${top - 4}" x2="${labelW}" y2="${height - 20}" stroke="#444"/>`, '</svg>');
  return out.join('\n');
}

export function modelChartSvg(records: BenchRecord[]): string {
  const rows = modelRows(records).map((r) => ({
    label: `${r.name}${r.weights && r.weights !== 'f32' ? `, ${r.weights} weights` : ''}${r.compute?.startsWith('f16') ? ', f16' : ''} [${r.runner}]`,
    bars: [r.ours, r.peer, r.torch].filter((x): x is BenchRecord => !!x).map((x) => ({ series: x.runtime, value: x.median_ms })),
  }));
  const sw = records.some((r) => r.suite === 'model' && r.adapter_type === 'software');
  return barChartSvg(`Model forward, median ms (lower is better)${sw ? ' — SOFTWARE adapter' : ''}`, 'ms', rows);
}

export function kernelChartSvg(records: BenchRecord[]): string {
  const ks = records.filter((r) => r.suite === 'kernel');
  const rows = ks.map((r) => ({ label: `${r.name} [${r.runner}]`, bars: [{ series: r.runtime, value: r.gflops }] }));
  const sw = ks.some((r) => r.adapter_type === 'software');
  return barChartSvg(`Kernels, GFLOP/s (higher is better)${sw ? ' — SOFTWARE adapter' : ''}`, 'GFLOP/s', rows);
}
