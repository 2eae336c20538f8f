// Seeded mutations of checkpoints (safetensors header, layout, truncation, config.json, shard index) and of
// encoded images (PNG chunks, JPEG markers, truncation, byte flips) for the fuzz tests. Every
// mutation is a pure function of its seed (the checks' mulberry32 rng), so a failing case number
// reproduces on its own. Mutations are applied to real files: a tiny generated checkpoint and the
// preprocessing fixture images.
import { parseConfig } from '../../src/model/config.js';
import { expectedTensors } from '../../src/model/weights.js';
import { fileTensorsOf, layoutFor, quantizationConfig, type CheckpointQuant } from '../../src/model/quantized.js';
import { packedToFile, quantizeRows } from '../../src/runtime/quant.js';
import { rng } from '../../src/kernels/check-harness.js';
import { fixCrc } from './png-bytes.js';
import { randomTensor, safetensorsFile, seeded, tinyChatConfigJson, tinyConfigJson } from '../runtime/checkpoint-helpers.js';
import type { WriteTensor } from '../../src/runtime/safetensors.js';

/** INTERNVIT_FUZZ=full runs every case (≥ 1000 checkpoints, 200 images); the default run a sample. */
export const FULL_FUZZ = process.env.INTERNVIT_FUZZ === 'full';

export type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

// ------------------------------------------------------------------------------ checkpoints

export interface BaseCheckpoint {
  kind: 'standalone' | 'chat';
  config: Record<string, unknown>;
  header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  data: Uint8Array;
}

/**
 * A tiny valid checkpoint (linear weights BF16, the rest F32, as published checkpoints mix them);
 * `llmHidden` changes a chat checkpoint's projector width.
 */
export function baseCheckpoint(kind: 'standalone' | 'chat', llmHidden?: number, quant?: CheckpointQuant): BaseCheckpoint {
  const config = kind === 'chat' ? tinyChatConfigJson() : tinyConfigJson();
  if (llmHidden !== undefined) (config.llm_config as Record<string, unknown>).hidden_size = llmHidden;
  // A pre-quantized checkpoint (`internvit quantize` layout): packed linear weights + scales.
  if (quant) config.quantization_config = quantizationConfig(quant);
  const parsed = parseConfig(config);
  const rand = seeded(kind === 'chat' ? 2 : 1);
  const tensors: Record<string, WriteTensor> = {};
  for (const t of expectedTensors(parsed.vision, { prefix: parsed.prefix, projector: parsed.chat })) {
    if (quant && t.linear) {
      const l = layoutFor(quant, t.shape);
      const q = quantizeRows(Array.from({ length: l.rows * l.cols }, () => rand() - 0.5), l.rows, l);
      const [w, s] = fileTensorsOf(t.name, l);
      tensors[w!.name] = { dtype: w!.dtype, shape: w!.shape, data: packedToFile(q.packed, l.rows, l) };
      tensors[s!.name] = { dtype: 'F32', shape: s!.shape, data: q.scales };
      continue;
    }
    tensors[t.name] = randomTensor(t.shape, t.linear ? 'BF16' : 'F32', rand);
  }
  const bytes = safetensorsFile(tensors);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as BaseCheckpoint['header'];
  return { kind, config, header, data: bytes.subarray(8 + n) };
}

/**
 * The same tensors with `pad` bytes before the data and between tensors: valid safetensors (the
 * format does not require alignment), but every tensor starts at an odd or unaligned offset.
 */
export function misaligned(base: BaseCheckpoint, pad: number): Uint8Array {
  const entries = Object.entries(base.header).sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  const header: BaseCheckpoint['header'] = {};
  const parts: number[] = [];
  for (const [name, e] of entries) {
    for (let k = 0; k < pad; k++) parts.push(0xee);
    const begin = parts.length;
    for (let k = e.data_offsets[0]; k < e.data_offsets[1]; k++) parts.push(base.data[k]!);
    header[name] = { ...e, data_offsets: [begin, parts.length] };
  }
  return assemble(enc(JSON.stringify(header)), Uint8Array.from(parts));
}

/** header JSON text + data → a safetensors file; `lengthField` overrides the 8-byte header length. */
export function assemble(headerText: Uint8Array, data: Uint8Array, lengthField?: bigint): Uint8Array {
  const out = new Uint8Array(8 + headerText.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthField ?? BigInt(headerText.length), true);
  out.set(headerText, 8);
  out.set(data, 8 + headerText.length);
  return out;
}

const enc = (s: string) => new TextEncoder().encode(s);

export interface CheckpointCase {
  label: string;
  files: Record<string, Uint8Array>;
}

const DTYPES: unknown[] = ['F32', 'F16', 'BF16', 'F64', 'I8', 'U8', 'I64', 'BOOL', 'F8_E4M3', 'bf16', 'float32', '', 7, null, ['F32']];
const ABSURD: unknown[] = [
  0, -1, -128, 1.5, 1e9, 1e12, 1e300, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, '128', 'abc', true, false, null, [], {}, [8], 'NaN',
];

/** Keys of config.json worth mutating, with the object they live in. */
function configFields(base: BaseCheckpoint): { obj: (c: Record<string, unknown>) => Record<string, unknown>; key: string }[] {
  const vision = ['hidden_size', 'num_attention_heads', 'intermediate_size', 'num_hidden_layers', 'image_size', 'patch_size', 'num_channels',
    'norm_type', 'qk_normalization', 'qkv_bias', 'layer_norm_eps', 'hidden_act', 'model_type'];
  if (base.kind === 'standalone') return vision.map((key) => ({ obj: (c) => c, key }));
  return [
    ...vision.map((key) => ({ obj: (c: Record<string, unknown>) => c.vision_config as Record<string, unknown>, key })),
    ...['downsample_ratio', 'ps_version', 'select_layer', 'force_image_size', 'vision_config', 'llm_config', 'model_type'].map((key) => ({ obj: (c: Record<string, unknown>) => c, key })),
    { obj: (c: Record<string, unknown>) => c.llm_config as Record<string, unknown>, key: 'hidden_size' },
  ];
}

type Header = Record<string, unknown>;
type Entry = { dtype: unknown; shape: unknown; data_offsets: unknown };

function tensorNames(h: Header): string[] {
  return Object.keys(h).filter((k) => k !== '__metadata__');
}

/** One mutation of the header object (returns a label). */
function mutateHeaderObject(r: Rand, h: Header, dataLength: number): string {
  // Only entries still intact (a second round may follow a first one that broke some).
  const names = tensorNames(h).filter((n) => {
    const o = h[n] as Entry | null;
    return typeof o === 'object' && o !== null && Array.isArray(o.data_offsets) && o.data_offsets.length === 2 && Array.isArray(o.shape);
  });
  if (names.length === 0) return 'no intact entry left';
  const name = pick(r, names);
  const e = h[name] as Entry;
  const [b, en] = e.data_offsets as [number, number];
  const which = int(r, 0, 12);
  switch (which) {
    case 0: e.dtype = pick(r, DTYPES); return `dtype of '${name}' → ${JSON.stringify(e.dtype)}`;
    case 1: {
      const shape = [...(e.shape as number[])];
      const v = int(r, 0, 8);
      const variants: unknown[] = [
        [...shape, 1], shape.slice(1), [...shape].reverse(), shape.map((d) => d * 2), [-1, ...shape.slice(1)], [1e12, ...shape.slice(1)],
        [1.5], 'abc', [2 ** 40, 2 ** 40],
      ];
      e.shape = variants[v];
      return `shape of '${name}' → ${JSON.stringify(e.shape)}`;
    }
    case 2: e.data_offsets = [en, b]; return `data_offsets of '${name}' reversed`;
    case 3: {
      const other = h[pick(r, names)] as Entry;
      const [ob] = other.data_offsets as [number, number];
      e.data_offsets = [ob, ob + (en - b)];
      return `data_offsets of '${name}' moved onto another tensor (overlap)`;
    }
    case 4: {
      const shift = pick(r, [dataLength, dataLength - 1, dataLength + 7, 2 ** 31, 2 ** 52, 2 ** 60]);
      e.data_offsets = [b + shift, en + shift];
      return `data_offsets of '${name}' out of range (+${shift})`;
    }
    case 5: {
      const shift = int(r, 1, 3);
      e.data_offsets = [b + shift, en + shift];
      return `data_offsets of '${name}' misaligned (+${shift})`;
    }
    case 6: {
      e.data_offsets = pick(r, [[b], [b, en, en], [b - 0.5, en], [-4, en], ['0', en], null, 'x', [b, en + 2], [b, b]]);
      return `data_offsets of '${name}' → ${JSON.stringify(e.data_offsets)}`;
    }
    case 7: delete h[name]; return `tensor '${name}' removed`;
    case 8: {
      h[`${name}.extra`] = { dtype: 'F32', shape: [1], data_offsets: [0, 4] };
      return `extra tensor '${name}.extra' (overlapping)`;
    }
    case 9: h[name] = pick(r, [null, 1, 'F32', [], [e.dtype, e.shape, e.data_offsets]]); return `entry '${name}' is not an object`;
    case 10: h.__metadata__ = pick(r, [[], 'x', null, { a: 1 }, { a: ['x'] }, { format: 'pt', n: null }]); return `__metadata__ → ${JSON.stringify(h.__metadata__)}`;
    case 11: {
      // Names that are special to JavaScript objects (defineProperty: plain assignment to
      // '__proto__' would set the prototype instead of adding a key).
      const key = pick(r, ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '']);
      const empty = r() < 0.5; // an empty tensor overlaps nothing, so it reaches validateCheckpoint
      const value = empty ? { dtype: 'F32', shape: [0], data_offsets: [dataLength, dataLength] } : { ...e };
      Object.defineProperty(h, key, { value, enumerable: true, configurable: true, writable: true });
      return `tensor named '${key}' (${empty ? 'empty' : `a copy of '${name}'`})`;
    }
    default: {
      const [k1, k2] = [pick(r, names), pick(r, names)];
      const tmp = h[k1];
      h[k1] = h[k2];
      h[k2] = tmp;
      return `entries of '${k1}' and '${k2}' swapped`;
    }
  }
}

function mutateConfig(r: Rand, base: BaseCheckpoint, c: Record<string, unknown>): string {
  const fields = configFields(base);
  const f = pick(r, fields);
  const obj = f.obj(c);
  if (!obj || typeof obj !== 'object') return 'no-op (object gone)';
  if (r() < 0.2) {
    delete obj[f.key];
    return `config "${f.key}" removed`;
  }
  obj[f.key] = pick(r, ABSURD);
  return `config "${f.key}" → ${JSON.stringify(obj[f.key])}`;
}

/** Every config field set to every absurd value, and removed: the systematic half of the config fuzz. */
export function configCases(base: BaseCheckpoint): CheckpointCase[] {
  const file = assemble(enc(JSON.stringify(base.header)), base.data);
  const out: CheckpointCase[] = [];
  for (const f of configFields(base)) {
    for (const value of [undefined, ...ABSURD]) {
      const config = structuredClone(base.config);
      const obj = f.obj(config);
      if (value === undefined) delete obj[f.key];
      else obj[f.key] = value;
      out.push({
        label: `${base.kind} config "${f.key}" ${value === undefined ? 'removed' : `→ ${JSON.stringify(value)}`}`,
        files: { 'config.json': enc(JSON.stringify(config)), 'model.safetensors': file },
      });
    }
  }
  return out;
}

function flipBytes(r: Rand, b: Uint8Array, from: number, to: number, count: number): Uint8Array {
  const out = Uint8Array.from(b);
  for (let i = 0; i < count && to > from; i++) out[int(r, from, to - 1)] = int(r, 0, 255);
  return out;
}

/** The `seed`-th mutated checkpoint of `base`: folder files by relative name. */
export function mutateCheckpoint(base: BaseCheckpoint, seed: number): CheckpointCase {
  const r = rng(seed * 7919 + (base.kind === 'chat' ? 1 : 0));
  const config = structuredClone(base.config);
  const header = structuredClone(base.header) as Header;
  const labels: string[] = [];
  let configText: Uint8Array = enc(JSON.stringify(config));
  let file: Uint8Array | null = null;
  let index: Uint8Array | null = null;
  const rounds = r() < 0.15 ? 2 : 1;
  for (let round = 0; round < rounds; round++) {
    const kind = int(r, 0, 9);
    if (kind <= 3) labels.push(mutateHeaderObject(r, header, base.data.length));
    else if (kind <= 5) {
      labels.push(mutateConfig(r, base, config));
      configText = enc(JSON.stringify(config));
    } else if (kind === 6) {
      const v = int(r, 0, 5);
      configText = enc(['', '{', '[]', 'null', '{"hidden_size": 8,', JSON.stringify(config).slice(0, int(r, 1, 60))][v]!);
      labels.push(`config.json text → ${JSON.stringify(new TextDecoder().decode(configText).slice(0, 30))}`);
    } else if (kind === 7) {
      // Header length field, JSON text and byte flips: applied to the assembled file below.
      const text = enc(JSON.stringify(header));
      const v = int(r, 0, 4);
      if (v === 0) {
        const n = pick(r, [0n, 1n, 7n, BigInt(text.length - 1), BigInt(text.length + 1), BigInt(text.length + base.data.length), 2n ** 32n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n]);
        file = assemble(text, base.data, n);
        labels.push(`header length → ${n}`);
      } else if (v === 1) {
        const cut = int(r, 0, text.length - 1);
        file = assemble(text.subarray(0, cut), base.data);
        labels.push(`header JSON cut to ${cut} bytes`);
      } else if (v === 2) {
        const t = flipBytes(r, text, 0, text.length, int(r, 1, 4));
        file = assemble(t, base.data);
        labels.push('header JSON bytes flipped');
      } else if (v === 3) {
        file = assemble(enc(pick(r, ['[]', 'null', '"x"', '1', '{}', '{"a":', '\u00ff\u00fe'])), base.data);
        labels.push('header JSON replaced');
      } else {
        file = assemble(Uint8Array.from([...text.subarray(0, 10), 0xc3, 0x28, ...text.subarray(10)]), base.data);
        labels.push('header JSON with invalid UTF-8');
      }
    } else if (kind === 8) {
      const whole = assemble(enc(JSON.stringify(header)), base.data);
      const cut = pick(r, [0, 4, 7, 8, 12, int(r, 8, whole.length - 1), whole.length - 1, whole.length - base.data.length]);
      file = whole.subarray(0, cut);
      labels.push(`file truncated to ${cut} of ${whole.length} bytes`);
    } else {
      // Sharded layout: index + one shard, the index mutated.
      const shard = 'model-00001-of-00001.safetensors';
      const map: Record<string, unknown> = Object.fromEntries(tensorNames(header).map((n) => [n, shard]));
      const v = int(r, 0, 6);
      const name = pick(r, tensorNames(header));
      let json: unknown = { metadata: {}, weight_map: map };
      if (v === 0) map[name] = '../outside.safetensors';
      else if (v === 1) map[name] = 'missing.safetensors';
      else if (v === 2) map[name] = 42;
      else if (v === 3) json = { weight_map: [] };
      else if (v === 4) json = { weight_map: {} };
      else if (v === 5) map[name] = 'https://example.com/x.safetensors';
      else delete map[name];
      index = enc(JSON.stringify(json));
      labels.push(`index: ${['shard outside the folder', 'missing shard', 'shard not a string', 'weight_map an array', 'weight_map empty', 'shard a URL', 'tensor left out'][v]}`);
    }
  }
  file ??= assemble(enc(JSON.stringify(header)), base.data);
  const files: Record<string, Uint8Array> = { 'config.json': configText };
  if (index) {
    files['model.safetensors.index.json'] = index;
    files['model-00001-of-00001.safetensors'] = file;
  } else {
    files['model.safetensors'] = file;
  }
  return { label: `${base.kind} #${seed}: ${labels.join('; ')}`, files };
}

// ---------------------------------------------------------------------------------- images

const setU32 = (b: Uint8Array, at: number, v: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, v >>> 0);
const u32be = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

function pngChunks(b: Uint8Array): { at: number; len: number; type: string }[] {
  const out = [];
  let pos = 8;
  while (pos + 12 <= b.length) {
    const len = u32be(b, pos);
    out.push({ at: pos, len, type: String.fromCharCode(b[pos + 4]!, b[pos + 5]!, b[pos + 6]!, b[pos + 7]!) });
    pos += 12 + len;
  }
  return out;
}

export interface ImageCase { label: string; bytes: Uint8Array }

/** The `seed`-th mutation of an encoded image (`name` for the label). */
export function mutateImage(name: string, src: Uint8Array, seed: number): ImageCase {
  const r = rng(seed * 104729 + src.length);
  const isPng = src[0] === 0x89;
  let b: Uint8Array = Uint8Array.from(src);
  let label: string;
  const kind = int(r, 0, 6);
  if (kind === 0) {
    const cut = int(r, 0, b.length - 1);
    b = b.subarray(0, cut);
    label = `truncated to ${cut} of ${src.length} bytes`;
  } else if (kind === 1) {
    const n = int(r, 1, 8);
    b = flipBytes(r, b, 2, b.length, n);
    label = `${n} random byte(s) changed`;
  } else if (isPng) {
    const chunks = pngChunks(b);
    const c = pick(r, chunks);
    if (kind === 2) {
      const v = pick(r, [0, 1, c.len - 1, c.len + 1, c.len * 2 + 100, 0x7fffffff, 0xffffffff]);
      setU32(b, c.at, v);
      label = `chunk ${c.type} length ${c.len} → ${v}`;
    } else if (kind === 3) {
      b[c.at + 8 + c.len] = b[c.at + 8 + c.len]! ^ (1 << int(r, 0, 7));
      label = `chunk ${c.type} CRC broken`;
    } else if (kind === 4) {
      // IHDR fields with a valid CRC, so the decoder sees a consistent but wrong header.
      const field = int(r, 0, 4);
      const w = u32be(b, 16);
      const h = u32be(b, 20);
      if (field === 0) setU32(b, 16, pick(r, [0, 1, w + 1, w * 2, 30000, 0x7fffffff, 0x80000000]));
      else if (field === 1) setU32(b, 20, pick(r, [0, 1, h - 1, h + 1, 30000, 0xffffffff]));
      else if (field === 2) b[24] = pick(r, [0, 1, 2, 3, 4, 5, 16, 255]);
      else if (field === 3) b[25] = pick(r, [0, 1, 2, 3, 4, 5, 6, 7]);
      else b[28] = pick(r, [1, 2, 255]);
      fixCrc(b, 8);
      label = `IHDR ${['width', 'height', 'bit depth', 'colour type', 'interlace'][field]} changed (CRC fixed)`;
    } else if (kind === 6) {
      // Bytes inside a chunk's data with the CRC recomputed: only the decoder can notice (filter
      // types, zlib stream, palette indices).
      const target = pick(r, chunks.filter((x) => x.len > 0 && x.type !== 'IHDR'));
      if (target) {
        const n = int(r, 1, 3);
        for (let k = 0; k < n; k++) b[target.at + 8 + int(r, 0, target.len - 1)] = int(r, 0, 255);
        fixCrc(b, target.at);
      }
      label = `bytes inside chunk ${target?.type ?? '(none)'} changed (CRC fixed)`;
    } else {
      const drop = pick(r, chunks);
      b = Uint8Array.from([...b.subarray(0, drop.at), ...b.subarray(drop.at + 12 + drop.len)]);
      label = `chunk ${drop.type} removed`;
    }
  } else {
    // JPEG: segment lengths, frame size, entropy data.
    const markers: number[] = [];
    for (let i = 2; i + 3 < b.length; i++) if (b[i] === 0xff && b[i + 1]! >= 0xc0 && b[i + 1]! <= 0xfe && b[i + 1] !== 0xd9 && !(b[i + 1]! >= 0xd0 && b[i + 1]! <= 0xd7)) markers.push(i);
    const sos = markers.find((i) => b[i + 1] === 0xda) ?? b.length - 2;
    const sof = markers.find((i) => b[i + 1] === 0xc0 || b[i + 1] === 0xc2);
    if (kind === 2) {
      const at = pick(r, markers);
      const v = pick(r, [0, 1, 2, 3, 0xffff, int(r, 0, 0xffff)]);
      b[at + 2] = v >> 8;
      b[at + 3] = v & 255;
      label = `marker 0xff${b[at + 1]!.toString(16)} length → ${v}`;
    } else if (kind === 3 && sof !== undefined) {
      const field = int(r, 0, 3);
      if (field === 0) { b[sof + 5] = 0; b[sof + 6] = 0; } else if (field === 1) { b[sof + 7] = 0xff; b[sof + 8] = 0xff; } else if (field === 2) { b[sof + 9] = int(r, 0, 5); } else { b[sof + 11] = int(r, 0, 255); }
      label = `frame header ${['height 0', 'width 65535', 'component count', 'sampling factors'][field]}`;
    } else if (kind === 4) {
      const n = int(r, 1, 4);
      b = flipBytes(r, b, Math.min(sos + 20, b.length - 3), b.length - 2, n);
      label = `${n} byte(s) of entropy-coded data changed`;
    } else {
      b = b.subarray(0, Math.max(2, b.length - int(r, 1, 4)));
      label = 'end-of-image marker cut off';
    }
  }
  return { label: `${name} #${seed}: ${label}`, bytes: b };
}
