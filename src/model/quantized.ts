// int8 / int4 linear weights (weightStorage 'int8' | 'int4'): how a quantized weight sits in the
// weight map, and the pre-quantized checkpoint format that `internvit quantize` writes.
//
// In the weight map a quantized linear weight `X.weight` is a u32 tensor [N, words per row] carrying
// its QuantLayout (`quant`), and its f32 scales are the tensor `X.weight_scale` (src/runtime/quant.ts
// has the packing). A pre-quantized checkpoint stores the same two tensors under the same names:
// `X.weight` as I8 [N, K] (int8) or U8 [N, ceil(K / 2)] (int4 nibble pairs), `X.weight_scale` as F32
// [N] (int8) or [N, ceil(K / group), 2] (int4: scale, offset); every other tensor as in the source
// checkpoint. Its config.json records the scheme:
//   "quantization_config": {"quant_method": "internvit-webgpu", "format": 1, "weights": "int4",
//                           "group_size": 32, "symmetric": false, "scale_dtype": "F32"}
// (int8: group_size null, one scale per output channel, and symmetric true).
import type { SafetensorsDType } from '../runtime/dtype.js';
import { INT4_GROUP_SIZE, INT4_GROUP_SIZES, QUANT_SCHEMES, quantLayout, fileShape, scalesShape, type QuantLayout, type QuantScheme } from '../runtime/quant.js';
import type { Tensor } from '../runtime/tensor.js';

export const QUANT_METHOD = 'internvit-webgpu';
export const QUANT_FORMAT = 1;
/** Suffix of a quantized weight's scales tensor (in the weight map and in pre-quantized files). */
export const SCALE_SUFFIX = '_scale';

/** What a pre-quantized checkpoint's config records. */
export interface CheckpointQuant {
  scheme: QuantScheme;
  /** int4: input channels per scale; int8: null (one scale per output channel). */
  groupSize: number | null;
}

/** A quantized linear weight in the weight map. */
export interface QuantizedTensor extends Tensor {
  quant: QuantLayout;
}

export function quantOf(t: Tensor | undefined): QuantLayout | undefined {
  return (t as Partial<QuantizedTensor> | undefined)?.quant;
}

/** The config.json entry for a checkpoint quantized with `q`. */
export function quantizationConfig(q: CheckpointQuant): Record<string, unknown> {
  return { quant_method: QUANT_METHOD, format: QUANT_FORMAT, weights: q.scheme, group_size: q.groupSize, symmetric: q.scheme === 'int8', scale_dtype: 'F32' };
}

/**
 * The quantization a config.json records, or null when it records none. Anything this runtime does
 * not write (another method, format, scheme, group size, scale dtype) is refused by name: loading
 * such weights as floats would give wrong numbers.
 */
export function checkpointQuantization(raw: unknown, file: string): CheckpointQuant | null {
  if (raw === null || typeof raw !== 'object') return null;
  const q = (raw as Record<string, unknown>).quantization_config;
  if (q === undefined || q === null) return null;
  const fail = (why: string): never => {
    throw new Error(`${file}: quantization_config ${why}; this runtime reads only what \`internvit quantize\` writes (${JSON.stringify(quantizationConfig({ scheme: 'int4', groupSize: INT4_GROUP_SIZE }))})`);
  };
  if (typeof q !== 'object' || Array.isArray(q)) return fail('is not an object');
  const o = q as Record<string, unknown>;
  if (o.quant_method !== QUANT_METHOD) fail(`has quant_method ${JSON.stringify(o.quant_method)}, expected "${QUANT_METHOD}"`);
  if (o.format !== QUANT_FORMAT) fail(`has format ${JSON.stringify(o.format)}, expected ${QUANT_FORMAT}`);
  if (!QUANT_SCHEMES.includes(o.weights as QuantScheme)) fail(`has weights ${JSON.stringify(o.weights)}, expected one of ${QUANT_SCHEMES.join(', ')}`);
  const scheme = o.weights as QuantScheme;
  if (o.symmetric !== (scheme === 'int8')) fail(`has symmetric ${JSON.stringify(o.symmetric)}, expected ${scheme === 'int8'} for ${scheme}`);
  if (o.scale_dtype !== 'F32') fail(`has scale_dtype ${JSON.stringify(o.scale_dtype)}, expected "F32"`);
  if (scheme === 'int8' && o.group_size !== null) fail(`has group_size ${JSON.stringify(o.group_size)} for int8, expected null (one scale per output channel)`);
  if (scheme === 'int4' && !INT4_GROUP_SIZES.includes(o.group_size as number)) {
    fail(`has group_size ${JSON.stringify(o.group_size)} for int4, expected one of ${INT4_GROUP_SIZES.join(', ')}`);
  }
  return { scheme, groupSize: scheme === 'int4' ? (o.group_size as number) : null };
}

/** The layout of a linear weight of logical shape [N, K] under `q`. */
export function layoutFor(q: CheckpointQuant, shape: readonly number[]): QuantLayout {
  return quantLayout(q.scheme, shape[0]!, shape[1]!, q.groupSize ?? undefined);
}

/** What a pre-quantized file holds for one linear weight: the packed tensor and the scales. */
export function fileTensorsOf(name: string, l: QuantLayout): { name: string; dtype: SafetensorsDType; shape: number[] }[] {
  return [{ name, ...fileShape(l) }, { name: name + SCALE_SUFFIX, dtype: 'F32', shape: scalesShape(l) }];
}

/**
 * The accuracy contract of quantized weights: every token's cosine to the float64 reference is at
 * least this (measured on every fixture: test/model/quant-accuracy.test.ts).
 */
export const QUANT_COSINE_MIN: Readonly<Record<QuantScheme, number>> = { int8: 0.999, int4: 0.98 };
