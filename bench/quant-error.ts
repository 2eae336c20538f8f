// Weight error of the int8 / int4 quantizers (src/runtime/quant.ts) against alternatives, the
// measurement behind the int4 choices (ARCHITECTURE.md, Checkpoints): relative RMS error of the
// dequantized weights, per layer-0 linear weight of the given safetensors files and for synthetic
// Gaussian / Laplace / Student-t weights. "lib" is the shipped quantizer (int4: zero point and a
// least-squares grid per group), "asym" round-to-nearest on each group's range (the previous int4
// quantizer), "sym" symmetric absmax / 7. Last, the host time of quantizing InternViT-300M-shaped
// random weights (24 layers of qkv, proj, fc1, fc2: 302 M weights), as a load does.
//   npx tsx bench/quant-error.ts test/fixtures/model/layernorm-f32/model.safetensors models/internvit-tiny/model.safetensors
import { readFileSync } from 'node:fs';
import { readSafetensorsFloat32 } from '../src/runtime/safetensors.js';
import { dequantize, quantizeRows, quantLayout } from '../src/runtime/quant.js';
function sym(w: Float32Array, rows: number, cols: number, g: number): Float64Array {
  const out = new Float64Array(w.length);
  for (let r = 0; r < rows; r++) for (let k0 = 0; k0 < cols; k0 += g) {
    const k1 = Math.min(cols, k0 + g); let m = 0;
    for (let k = k0; k < k1; k++) m = Math.max(m, Math.abs(w[r*cols+k]!));
    const s = m / 7;
    for (let k = k0; k < k1; k++) out[r*cols+k] = s ? Math.max(-7, Math.min(7, Math.round(w[r*cols+k]! / s))) * s : 0;
  }
  return out;
}
function asym(w: Float32Array, rows: number, cols: number, g: number): Float64Array {
  const out = new Float64Array(w.length);
  for (let r = 0; r < rows; r++) for (let k0 = 0; k0 < cols; k0 += g) {
    const k1 = Math.min(cols, k0 + g); let lo = Infinity, hi = -Infinity;
    for (let k = k0; k < k1; k++) { lo = Math.min(lo, w[r*cols+k]!); hi = Math.max(hi, w[r*cols+k]!); }
    const o = Math.fround(lo); const s = Math.fround((hi - o) / 15);
    for (let k = k0; k < k1; k++) out[r*cols+k] = s ? Math.max(0, Math.min(15, Math.round((w[r*cols+k]! - o) / s))) * s + o : o;
  }
  return out;
}
const rel = (a: ArrayLike<number>, b: ArrayLike<number>) => { let e = 0, n = 0; for (let i = 0; i < a.length; i++) { e += (a[i]! - b[i]!) ** 2; n += b[i]! ** 2; } return Math.sqrt(e / n); };
function report(label: string, w: Float32Array, rows: number, cols: number) {
  const parts = [`${label} [${rows},${cols}]`];
  const l8 = quantLayout('int8', rows, cols); parts.push(`int8 ${rel(dequantize(quantizeRows(w, rows, l8), l8), w).toExponential(2)}`);
  for (const g of [32, 64, 128]) {
    if (g > cols && g !== 32) continue;
    const l = quantLayout('int4', rows, cols, g);
    parts.push(`g${g} lib ${rel(dequantize(quantizeRows(w, rows, l), l), w).toFixed(4)} sym ${rel(sym(w, rows, cols, g), w).toFixed(4)} asym ${rel(asym(w, rows, cols, g), w).toFixed(4)}`);
  }
  console.log(parts.join(' | '));
}
for (const f of process.argv.slice(2)) {
  const t = readSafetensorsFloat32(readFileSync(f));
  for (const [name, v] of t) if (/(qkv|proj|fc1|fc2|mlp1\.[13])\.weight$/.test(name) && /layers\.0\.|mlp1/.test(name)) report(f.split('/').slice(-2)[0] + ' ' + name.replace('vision_model.encoder.layers.', 'L').replace('encoder.layers.', 'L'), v.data, v.shape[0]!, v.shape[1]!);
}
// Heavy-tailed synthetic (trained weights are closer to Laplace / Student-t with outliers than uniform).
let s = 12345; const u = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
const gauss = () => Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
for (const [name, gen] of [['gaussian', gauss], ['laplace', () => -Math.sign(u() - 0.5) * Math.log(1 - 2 * Math.abs(u() - 0.5) + 1e-12)], ['student-t3', () => gauss() / Math.sqrt((gauss() ** 2 + gauss() ** 2 + gauss() ** 2) / 3)]] as const) {
  const rows = 256, cols = 1024; const w = new Float32Array(rows * cols); for (let i = 0; i < w.length; i++) w[i] = (gen as () => number)() * 0.02;
  report(`synthetic ${name}`, w, rows, cols);
}
// Host time to quantize InternViT-300M's linear weights (one layer's four weights, quantized 24 times).
const shapes: [number, number][] = [[3072, 1024], [1024, 1024], [4096, 1024], [1024, 4096]];
const layer = shapes.map(([r, c]) => { const w = new Float32Array(r * c); for (let i = 0; i < w.length; i++) w[i] = gauss() * 0.02; return w; });
for (const [scheme, g] of [['int8', 0], ['int4', 32], ['int4', 64]] as const) {
  const t0 = performance.now();
  for (let i = 0; i < 24; i++) shapes.forEach(([r, c], j) => quantizeRows(layer[j]!, r, quantLayout(scheme, r, c, g || undefined)));
  console.log(`InternViT-300M linear weights (302 M) to ${scheme}${g ? ` group ${g}` : ''}: ${(performance.now() - t0).toFixed(0)} ms on the host`);
}
