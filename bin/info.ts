// `internvit info`: a model's shape, parameter count and cost, from its config.json alone (presets
// need no download; a checkpoint's headers are read and checked, never its weights).
import {
  describeGpu, describePass, gflopsPerImage, isHubId, maxBatch, maxTilesPerPass, paramCount, PRESET_NAMES, PRESETS, presetConfig,
  selectedLayer, shapeOnlyEncoder, tokenGrid, weightBytes, describeStorageBytes, formatGpuBytes, linearWeightDType, checkpointQuantization,
  type Gpu, type LinearStorage, type ModelConfig, type PresetName, type WeightStorage,
} from '../src/internal.js';
import { CliError, formatGflop, intFlag, limitsFlag, parseFlags, stringFlag, weightsFlag, withGpu, type Io } from './cli.js';
import { checkpointLine, inspectModel, modelImageSize } from './inputs.js';

export const INFO_USAGE = `info [--model M] [--size S] [--weights W] [--gpu [--limits L]]
    a model's config, parameter count and GFLOP per image (tile) at S×S; presets need no download
    --model M   a preset name (listed by "internvit info" alone), checkpoint folder, URL, or Hugging Face id
    --size S    input side in pixels (default: the model's image size)
    --weights W the GPU bytes of the weights stored so (auto, f32, bf16, f16, int8, int4); every storage is listed anyway
    --gpu       also ask this machine's WebGPU device how many images (tiles) one pass takes at S×S
                (larger batches are split into passes); no weights are loaded
    --limits L  with --gpu: the device's limits, adapter (default) or default (WebGPU's defaults: what fits
                the most constrained browsers); env INTERNVIT_LIMITS`;

function presetFor(name: string): PresetName | undefined {
  return PRESET_NAMES.find((n) => n === name || PRESETS[n].hubId === name);
}

function presetList(): string {
  return PRESET_NAMES.join(', ');
}

const millions = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : n.toLocaleString('en-US'));
const gflops = formatGflop;

/**
 * The largest batch per pass on `gpu` at size×size, with 16-bit and with f32 linear weights, from
 * recorded plans of a shape-only encoder (nothing is uploaded or compiled).
 */
export function describePasses(gpu: Gpu, config: ModelConfig, size: number, storage?: LinearStorage): string[] {
  const lines = [`on this device: ${describeGpu(gpu)}`];
  const storages: [LinearStorage, string][] = storage && storage !== 'bf16' && storage !== 'f32'
    ? [[storage, `--weights ${storage}`], ['f32', '--weights f32']]
    : [['bf16', '16-bit linear weights'], ['f32', '--weights f32']];
  for (const [linear, what] of storages) {
    const encoder = shapeOnlyEncoder(gpu, config.vision, linear, config.chat);
    lines.push(describePass(`embed (${what})`, 'images', size, () => maxBatch(encoder, size, size)));
    if (config.chat) {
      const vl = { encoder, chat: config.chat, plans: encoder.plans };
      lines.push(describePass(`imageTokens (${what})`, 'tiles', size, () => maxTilesPerPass(vl, size, size)));
    }
  }
  return lines;
}

/** The report: encoder shape, parameters, tokens and matmul GFLOP at size×size, projector for chat models. */
export function describeModel(config: ModelConfig, size: number, storage?: LinearStorage): string[] {
  const v = config.vision;
  const { hp, wp, tokens } = tokenGrid(v, size, size);
  const lines = [
    `encoder: ${v.numLayers} layers, hidden ${v.hiddenSize}, ${v.numHeads} heads × ${v.headDim}, MLP ${v.intermediateSize}, ` +
      `${v.normType}${v.qkNormalization ? ' + QK norm' : ''}${v.qkvBias ? ', qkv bias' : ''}, patch ${v.patchSize}, image_size ${v.imageSize}`,
    `parameters: ${millions(paramCount(v))} (encoder${paramCount(v) >= 1e6 ? `, ${paramCount(v).toLocaleString('en-US')}` : ''})`,
  ];
  const chat = config.chat;
  lines.push(`weights on the GPU by --weights: ${describeStorageBytes(v, { projector: chat })}${chat ? ' (encoder + projector)' : ''}; ` +
    `auto keeps a BF16 checkpoint's bf16 (a pre-quantized one's int8 / int4)`);
  if (storage) lines.push(`weights on the GPU with --weights ${storage}: ${formatGpuBytes(weightBytes(v, storage, { projector: chat }))}`);
  if (!chat) {
    lines.push(`at ${size}×${size}: ${tokens} tokens (${hp}×${wp} patches + CLS), ${gflops(gflopsPerImage(v, size, size))} GFLOP per image (matmuls)`);
    return lines;
  }
  const D4 = chat.projectorInputSize;
  const Dl = chat.llmHiddenSize;
  const projector = 2 * D4 + D4 * Dl + Dl + Dl * Dl + Dl;
  const used = selectedLayer(v.numLayers, chat.selectLayer);
  const imageTokens = Math.floor(hp * 0.5) * Math.floor(wp * 0.5);
  const encoderGflop = gflopsPerImage({ ...v, numLayers: used }, size, size);
  const projectorGflop = (2 * imageTokens * (D4 * Dl + Dl * Dl)) / 1e9;
  lines.push(
    `InternVL projector: pixel shuffle ${chat.psVersion} (ratio ${chat.downsampleRatio}) → mlp1 ${D4} → ${Dl} → ${Dl}, ${millions(projector)} parameters; ` +
      `select_layer ${chat.selectLayer} (${used} of ${v.numLayers} layers run), tile size ${chat.imageSize}`,
    `at ${size}×${size} per tile: ${tokens} encoder tokens → ${imageTokens} image tokens of width ${Dl}, ` +
      `${gflops(encoderGflop + projectorGflop)} GFLOP (encoder ${gflops(encoderGflop)} + projector ${gflops(projectorGflop)}, matmuls)`,
  );
  return lines;
}

export async function info(args: string[], io: Io): Promise<number> {
  const values = parseFlags('info', args, { model: { type: 'string' }, size: { type: 'string' }, gpu: { type: 'boolean' }, limits: { type: 'string' }, weights: { type: 'string' } });
  if (!values) {
    io.out(`usage: internvit ${INFO_USAGE}`);
    return 0;
  }
  const spec = stringFlag(values, 'model');
  const sizeFlag = intFlag(values, 'size');
  const limits = limitsFlag(values);
  const weights = weightsFlag(values);
  if (spec === undefined) {
    io.out('presets (no download needed; "internvit info --model <name>" for details):');
    for (const name of PRESET_NAMES) {
      const c = PRESETS[name].config;
      io.out(`  ${name.padEnd(28)} ${millions(paramCount(c)).padStart(9)} params  ${gflops(gflopsPerImage(c)).padStart(7)} GFLOP at ${c.imageSize}  hub: ${PRESETS[name].hubId}`);
    }
    return 0;
  }

  const preset = presetFor(spec);
  let config: ModelConfig;
  const lines: string[] = [];
  // --weights auto: a preset's published checkpoint is BF16; a checkpoint's own dtype or quantization.
  let resolve = (w: WeightStorage): LinearStorage => linearWeightDType(w, 'BF16');
  if (preset) {
    config = presetConfig(preset);
    lines.push(`model: ${preset} (preset, shapes only, nothing downloaded; weights: ${PRESETS[preset].hubId})`);
  } else {
    let found;
    try {
      found = await inspectModel(spec);
    } catch (e) {
      const looksLikeName = !/^(https?|hf):\/\//i.test(spec) && !spec.includes('/') && !spec.startsWith('.');
      const hint = `presets (no download): ${presetList()}`;
      if (looksLikeName && !isHubId(spec)) throw new CliError(`unknown model '${spec}': not a preset, folder, URL or Hugging Face id; ${hint}`);
      throw new CliError(`${(e as Error).message}; ${hint}`);
    }
    config = found.config;
    if (found.quant) resolve = (w) => (w === 'auto' ? found.quant!.scheme : linearWeightDType(w, 'BF16'));
    else if (found.linearDType) resolve = (w) => linearWeightDType(w, found.linearDType!);
    lines.push(`model: ${found.location} (${config.chat ? 'InternVL chat checkpoint' : 'InternViT checkpoint'})`);
    lines.push(checkpointLine(found.location, found.checkpoint));
  }
  const size = sizeFlag ?? modelImageSize(config);
  try {
    lines.push(...describeModel(config, size, weights ? resolve(weights) : undefined));
  } catch (e) {
    throw new CliError(`--size ${size}: ${(e as Error).message}`);
  }
  if (values.gpu) lines.push(...(await withGpu(io, async (gpu) => describePasses(gpu, config, size, weights ? resolve(weights) : undefined), limits)));
  else lines.push('largest batch per pass: add --gpu to ask this machine\'s WebGPU device (no weights are loaded)');
  for (const l of lines) io.out(l);
  return 0;
}
