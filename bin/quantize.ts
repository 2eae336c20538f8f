// `internvit quantize`: a float checkpoint → a pre-quantized one (int8 or int4 linear weights;
// layout in src/model/quantized.ts) that loads directly, with no quantization work at load and
// about a quarter (int8) or an eighth (int4) of the linear weights' f32 bytes to download.
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { INT4_GROUP_SIZE, INT4_GROUP_SIZES, writeQuantizedCheckpoint, type QuantScheme } from '../src/internal.js';
import { CliError, formatMs, intFlag, now, parseFlags, requireFlag, usageError, type Io } from './cli.js';
import { openModel } from './inputs.js';

export const QUANTIZE_USAGE = `quantize --model M --weights int8|int4 --output DIR [--group-size G]
    writes a pre-quantized checkpoint (DIR/model.safetensors + DIR/config.json) that loads directly
    with --weights auto (or the same scheme); linear layers quantized, everything else copied
    --model M        a float (F32, BF16, F16) checkpoint folder, URL, or Hugging Face id
    --weights W      int8 (one scale per output channel) or int4 (one scale per group of input channels)
    --output DIR     the folder to create (it must not hold a model.safetensors already)
    --group-size G   int4: input channels per scale, ${INT4_GROUP_SIZES.join(', ')} (default ${INT4_GROUP_SIZE})`;

export async function quantize(args: string[], io: Io): Promise<number> {
  const values = parseFlags('quantize', args, { model: { type: 'string' }, weights: { type: 'string' }, output: { type: 'string' }, 'group-size': { type: 'string' } });
  if (!values) {
    io.out(`usage: internvit ${QUANTIZE_USAGE}`);
    return 0;
  }
  const spec = requireFlag('quantize', values, 'model', 'the checkpoint to quantize');
  const scheme = requireFlag('quantize', values, 'weights', 'int8 or int4');
  if (scheme !== 'int8' && scheme !== 'int4') throw usageError(`--weights must be int8 or int4 for quantize (got '${scheme}')`);
  const out = requireFlag('quantize', values, 'output', 'the folder to write');
  const groupSize = intFlag(values, 'group-size');
  if (groupSize !== undefined && scheme === 'int8') throw usageError('--group-size applies to int4 only (int8 has one scale per output channel)');
  if (groupSize !== undefined && !INT4_GROUP_SIZES.includes(groupSize)) throw usageError(`--group-size must be one of ${INT4_GROUP_SIZES.join(', ')} (got ${groupSize})`);
  const file = join(out, 'model.safetensors');
  if (await stat(file).catch(() => null)) throw new CliError(`--output ${out} already holds model.safetensors; choose a new folder`);
  const t0 = now();
  const { ckpt, config } = await openModel(spec);
  await mkdir(out, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    const result = await writeQuantizedCheckpoint(ckpt, config, { scheme: scheme as QuantScheme, ...(groupSize ? { groupSize } : {}) }, async (b) => {
      await handle.write(b);
    });
    await handle.close();
    await rename(tmp, file);
    await writeFile(join(out, 'config.json'), `${JSON.stringify(result.config, null, 2)}\n`);
    const source = [...ckpt.tensors.values()].reduce((a, t) => a + t.byteLength, 0);
    io.out(`wrote ${file}: ${result.tensors} tensors, ${(result.bytes / 1e6).toFixed(1)} MB (${scheme}${scheme === 'int4' ? `, group ${groupSize ?? INT4_GROUP_SIZE}` : ''}; source ${(source / 1e6).toFixed(1)} MB) in ${formatMs(now() - t0)}`);
    io.out(`wrote ${join(out, 'config.json')} (quantization_config recorded)`);
    return 0;
  } catch (e) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  } finally {
    await ckpt.close();
  }
}
