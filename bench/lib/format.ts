import type { BenchRecord, KernelSampleCheck } from './types.js';

/** A kernel's output check: "128 (3.1%)" = elements checked (worst error as % of the tolerance), FAILED when over. */
export function checkText(c: KernelSampleCheck, failed = 'FAILED', what = ''): string {
  const v = 100 * c.worstRatio;
  const pct = v >= 10 || !Number.isFinite(v) ? v.toFixed(0) : v >= 0.01 ? v.toPrecision(2) : v === 0 ? '0' : v.toExponential(0);
  return `${c.worstRatio <= 1 ? '' : `${failed} `}${c.samples} (${pct}%${what})`;
}

/** One console line per record, as the runners print them. */
export function formatRecord(r: BenchRecord): string {
  const name = r.suite === 'model' && r.weights ? `${r.name}, ${r.weights} weights${r.precision === 'f16' ? ', f16 compute' : ''}`
    : r.suite !== 'model' || r.dtype === 'f32' ? r.name : `${r.name} ${r.runtime.startsWith('onnxruntime') ? 'fp16' : r.dtype}`;
  const head = `[${r.suite}] ${r.runtime.padEnd(16)} ${name.padEnd(38)}`;
  if (r.error) return `${head} ERROR ${r.error}`;
  if (r.soak) {
    const { soak: s } = r;
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    return `${head} ${s.forwards} forwards, ${s.errors} errors, median ${r.median_ms?.toFixed(1)} ms; RSS ${mb(s.start.rss)} → ${mb(s.end.rss)}, ` +
      `GPU live ${mb(s.start.gpu_live)} → ${mb(s.end.gpu_live)} (peak ${mb(s.gpu_peak)})`;
  }
  const parts = [`median ${r.median_ms?.toFixed(3)} ms`, `p90 ${r.p90_ms?.toFixed(3)} ms`];
  if (r.gflops !== null) parts.push(`${r.gflops.toFixed(2)} GFLOP/s`);
  if (r.gbps) parts.push(`${r.gbps.toFixed(2)} GB/s`);
  if (r.first_run_ms !== undefined) parts.push(`first ${r.first_run_ms.toFixed(0)} ms`);
  if (r.gpu_ms !== undefined) parts.push(`GPU ${r.gpu_ms.toFixed(2)} ms`);
  if (r.dispatches !== undefined && r.suite === 'model') parts.push(`${r.dispatches} dispatches, ${r.submits} submit(s)`);
  if (r.check) parts.push(`checked ${checkText(r.check, 'FAILED', ' of tolerance')}`);
  for (const a of r.agreement ?? []) parts.push(`vs ${a.against}: rel ${a.rel.toExponential(1)}${a.cosine !== undefined ? `, min token cos ${a.cosine.toFixed(6)}` : ''}${a.ok ? '' : ' MISMATCH'}`);
  return `${head} ${parts.join(', ')}`;
}
