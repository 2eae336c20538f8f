// A pre-quantized checkpoint from a float one (`internvit quantize`): the layout is documented in
// src/model/quantized.ts. The file is streamed to a sink (header first, then each tensor), reading
// the source a bounded number of rows at a time, so a 6B checkpoint never sits in memory. The
// quantization is the same function as at load (quantizeRows), so loading the result gives the
// same GPU bytes as quantizing at load.
import { isFloatDType, toFloat32, type SafetensorsDType } from '../runtime/dtype.js';
import type { Checkpoint } from '../runtime/loader.js';
import { INT4_GROUP_SIZE, packedToFile, quantizeRows, quantLayout, scalesPerRow, type QuantLayout, type QuantScheme } from '../runtime/quant.js';
import { safetensorsHead } from '../runtime/safetensors.js';
import type { ModelConfig } from './config.js';
import { checkpointQuantization, fileTensorsOf, quantizationConfig, SCALE_SUFFIX } from './quantized.js';
import { validateCheckpoint } from './weights.js';

export interface QuantizeCheckpointOptions {
  scheme: QuantScheme;
  /** int4: input channels per scale (default INT4_GROUP_SIZE). */
  groupSize?: number;
  /** Most source bytes read at once (default 64 MiB; whole rows). */
  chunkBytes?: number;
  onProgress?: (p: { bytesDone: number; bytesTotal: number; tensor: string }) => void;
}

export interface QuantizedCheckpoint {
  /** config.json of the result: the source's, with quantization_config. */
  config: Record<string, unknown>;
  /** Bytes written to the sink (the .safetensors file). */
  bytes: number;
  tensors: number;
}

/**
 * Writes the vision tensors (and an InternVL checkpoint's mlp1 projector; never language_model.*)
 * of `ckpt` to `sink` as one safetensors file, linear weights quantized. Refuses a checkpoint that
 * is already quantized.
 */
export async function writeQuantizedCheckpoint(
  ckpt: Checkpoint, config: ModelConfig, opts: QuantizeCheckpointOptions, sink: (bytes: Uint8Array) => Promise<void>,
): Promise<QuantizedCheckpoint> {
  if (checkpointQuantization(ckpt.config, ckpt.configFile)) {
    throw new Error(`${ckpt.location} is already quantized (its config has quantization_config): quantize the float checkpoint instead`);
  }
  const groupSize = opts.groupSize ?? INT4_GROUP_SIZE;
  quantLayout(opts.scheme, 1, 1, groupSize); // validates scheme and group size first
  const v = validateCheckpoint(ckpt, config, { projector: config.chat !== null });
  const plan: { name: string; dtype: SafetensorsDType; shape: readonly number[]; layout?: QuantLayout }[] = [];
  for (const t of v.tensors) {
    if (!t.linear) {
      plan.push({ name: t.name, dtype: t.info.dtype, shape: t.info.shape });
      continue;
    }
    const l = quantLayout(opts.scheme, t.shape[0]!, t.shape[1]!, groupSize);
    const [w, s] = fileTensorsOf(t.name, l);
    plan.push({ ...w!, layout: l }, s!);
  }
  const { head, dataBytes } = safetensorsHead(plan, { format: 'pt', quantization: opts.scheme });
  await sink(head);
  let written = 0;
  const chunkBytes = Math.max(1024, opts.chunkBytes ?? 64 * 1024 * 1024);
  const bytesTotal = v.bytesTotal;
  let bytesDone = 0;
  let pendingScales: Float32Array | null = null;
  const put = async (b: Uint8Array) => {
    await sink(b);
    written += b.byteLength;
  };
  for (const entry of plan) {
    if (entry.name.endsWith(SCALE_SUFFIX) && pendingScales) {
      // The scales of the weight just written (collected while its rows streamed).
      await put(new Uint8Array(pendingScales.buffer, pendingScales.byteOffset, pendingScales.byteLength));
      pendingScales = null;
      continue;
    }
    const info = ckpt.info(entry.name);
    const source = ckpt.sourceOf(entry.name);
    const what = `${info.file}: tensor '${entry.name}'`;
    const l = entry.layout;
    if (!l) {
      for (let at = 0; at < info.byteLength; at += chunkBytes) {
        const len = Math.min(chunkBytes, info.byteLength - at);
        await put(await readExact(source, info.offset + at, len, what));
      }
    } else {
      if (!isFloatDType(info.dtype)) throw new Error(`${what}: dtype ${info.dtype} cannot be quantized (F32, F16 or BF16)`);
      const rowBytes = info.byteLength / l.rows;
      const rowsPer = Math.max(1, Math.floor(chunkBytes / rowBytes));
      const perRow = scalesPerRow(l);
      const scales = new Float32Array(l.rows * perRow);
      for (let r = 0; r < l.rows; r += rowsPer) {
        const n = Math.min(rowsPer, l.rows - r);
        const raw = await readExact(source, info.offset + r * rowBytes, n * rowBytes, what);
        const q = quantizeRows(toFloat32(raw, info.dtype, what), n, l, what);
        scales.set(q.scales, r * perRow);
        await put(packedToFile(q.packed, n, l));
      }
      pendingScales = scales;
    }
    bytesDone += info.byteLength;
    opts.onProgress?.({ bytesDone, bytesTotal, tensor: entry.name });
  }
  if (written !== dataBytes) throw new Error(`quantize: wrote ${written} data bytes, the header says ${dataBytes} (internal error)`);
  const raw = ckpt.config as Record<string, unknown>;
  return {
    config: { ...raw, quantization_config: quantizationConfig({ scheme: opts.scheme, groupSize: opts.scheme === 'int4' ? groupSize : null }) },
    bytes: head.byteLength + written,
    tensors: plan.length,
  };
}

async function readExact(source: { read(offset: number, length: number): Promise<Uint8Array> }, offset: number, length: number, what: string): Promise<Uint8Array> {
  const b = await source.read(offset, length);
  if (b.byteLength !== length) throw new Error(`${what}: read ${b.byteLength} of ${length} bytes at ${offset} (file truncated?)`);
  return b;
}
