// Inputs of the subcommands, all checked before a GPU is touched so that mistakes cost nothing and
// read as one line: pixel_values files, images and their preprocessing flags, model checkpoints.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkpointQuantization, decodeImage, DEFAULT_MAX_IMAGE_PIXELS, FileNotFoundError, fileSource, openCheckpoint, openSafetensors, parseConfig, readSafetensorsFloat32,
  resolveOptions, tokenGrid, validateCheckpoint, type Checkpoint, type CheckpointStore, type DecodedImage,
  type ImageOptions, type ModelConfig, type PreprocessMode, isFloatDType, type CheckpointQuant, type FloatDType,
} from '../src/internal.js';
import { CliError, intFlag, stringFlag, usageError, type FlagSpec, type FlagValues } from './cli.js';

export const PIXELS_NAME = 'pixel_values';

export interface Pixels {
  data: Float32Array;
  shape: number[];
}

function checkPixelsShape(shape: readonly number[], where: string): void {
  if (shape.length !== 4 || shape[1] !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new CliError(`${where}: '${PIXELS_NAME}' has shape [${shape.join(', ')}]; expected (B, 3, H, W)`);
  }
}

/** pixel_values (B, 3, H, W) F32 from a safetensors file; only that tensor's bytes are read. */
export async function readPixels(path: string): Promise<Pixels> {
  if (existsSync(path) && statSync(path).isDirectory()) throw new CliError(`--pixels ${path} is a folder; give a .safetensors file`);
  let file;
  try {
    file = await openSafetensors(fileSource(path));
  } catch (e) {
    if (e instanceof FileNotFoundError) throw new CliError(`--pixels ${path}: no such file`);
    throw e;
  }
  try {
    const info = file.header.tensors.get(PIXELS_NAME);
    if (!info) {
      const names = file.names();
      throw new CliError(`${path}: no tensor '${PIXELS_NAME}' (the file has ${names.length ? names.map((n) => `'${n}'`).join(', ') : 'no tensors'})`);
    }
    if (info.dtype !== 'F32') throw new CliError(`${path}: '${PIXELS_NAME}' is ${info.dtype}; expected F32`);
    checkPixelsShape(info.shape, path);
    return { data: await file.readFloat32(PIXELS_NAME), shape: [...info.shape] };
  } finally {
    await file.source.close?.();
  }
}

// ------------------------------------------------------------------------------ images

export const IMAGE_FLAGS: FlagSpec = {
  mode: { type: 'string' },
  'max-tiles': { type: 'string' },
  'min-tiles': { type: 'string' },
  'no-thumbnail': { type: 'boolean' },
  size: { type: 'string' },
  'max-image-pixels': { type: 'string' },
};

export const IMAGE_FLAGS_USAGE = `    --mode M        internvl (tiles + thumbnail, default), clip (short side + center crop), none (squash)
    --max-tiles N   internvl: at most N tiles (default 12)   --min-tiles N   at least N tiles (default 1)
    --no-thumbnail  internvl: no thumbnail tile after the grid
    --max-image-pixels N  refuse larger images from their header, before decoding
                    (default ${DEFAULT_MAX_IMAGE_PIXELS}, Pillow's decompression-bomb limit)
    --size S        tile side in pixels`;

const MODES: readonly PreprocessMode[] = ['internvl', 'clip', 'none'];

/** The preprocessing flags as API options, validated; `defaultSize` when --size is absent. */
export function imageOptions(values: FlagValues, defaultSize: number): ImageOptions & { preprocess: PreprocessMode; size: number } {
  const mode = stringFlag(values, 'mode') ?? 'internvl';
  if (!MODES.includes(mode as PreprocessMode)) throw usageError(`--mode must be one of ${MODES.join(', ')} (got '${mode}')`);
  const maxTiles = intFlag(values, 'max-tiles');
  const minTiles = intFlag(values, 'min-tiles');
  const thumbnail = values['no-thumbnail'] ? false : undefined;
  if (mode !== 'internvl' && (maxTiles !== undefined || minTiles !== undefined || thumbnail === false)) {
    throw usageError(`--max-tiles, --min-tiles and --no-thumbnail apply to --mode internvl only (got --mode ${mode})`);
  }
  const size = intFlag(values, 'size') ?? defaultSize;
  const maxImagePixels = intFlag(values, 'max-image-pixels');
  const opts = { preprocess: mode as PreprocessMode, size, maxTiles, minTiles, thumbnail, maxImagePixels };
  try {
    resolveOptions({ ...opts, mode: opts.preprocess });
  } catch (e) {
    throw usageError((e as Error).message);
  }
  return opts;
}

/** Refuses preprocessing flags when the input is a pixel tensor (they would be silently ignored). */
export function rejectImageFlags(values: FlagValues): void {
  const given = Object.keys(IMAGE_FLAGS).filter((k) => values[k] !== undefined);
  if (given.length) throw usageError(`${given.map((k) => `--${k}`).join(', ')} only apply to --image (the --pixels tensor is already preprocessed)`);
}

export async function readImage(path: string, opts: { maxImagePixels?: number } = {}): Promise<DecodedImage> {
  if (!existsSync(path)) throw new CliError(`--image ${path}: no such file`);
  if (statSync(path).isDirectory()) throw new CliError(`--image ${path} is a folder; give a PNG or JPEG file`);
  return decodeImage(path, undefined, { maxImagePixels: opts.maxImagePixels });
}

export function describeTiles(image: DecodedImage, grid: { cols: number; rows: number }, tiles: number, opts: { preprocess: PreprocessMode; size: number }): string {
  const thumb = tiles > grid.cols * grid.rows ? ' + thumbnail' : '';
  const layout = opts.preprocess === 'internvl' ? `grid ${grid.cols}×${grid.rows}${thumb} = ` : '';
  return `image ${image.name}: ${image.width}×${image.height} → ${layout}${tiles} tile${tiles === 1 ? '' : 's'} of ${opts.size}×${opts.size} (${opts.preprocess})`;
}

/** Safetensors metadata naming a preprocessed image: its file, mode, tile size, grid and tile count. */
export function tileMetadata(image: DecodedImage, opts: { preprocess: PreprocessMode; size: number }, px: { grid: { cols: number; rows: number }; tiles: number }): Record<string, string> {
  return { source: image.name, mode: opts.preprocess, size: String(opts.size), grid: `${px.grid.cols}x${px.grid.rows}`, tiles: String(px.tiles) };
}

// ------------------------------------------------------------------------------ models

/** The package folder (holding package.json "internvit-webgpu"), from wherever this code was bundled to. */
export function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'internvit-webgpu') return dir;
      } catch { /* not ours */ }
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

export const DEFAULT_MODEL = 'models/internvit-tiny';

export function packageVersion(): string {
  const root = packageRoot();
  return root ? (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version : 'unknown';
}

/** The bundled default model's folder, resolved relative to the package (not the working directory). */
export function defaultModel(): string {
  const root = packageRoot();
  const dir = root && join(root, DEFAULT_MODEL);
  if (!dir || !existsSync(join(dir, 'config.json'))) {
    throw new CliError(`the default model ${DEFAULT_MODEL} is not in this installation (${root ?? 'package folder not found'}); pass --model <folder|url|org/name>`);
  }
  return dir;
}

/**
 * Opens a checkpoint (config.json and safetensors headers only), parses the config and checks every
 * tensor against it: everything that can be wrong with a model, found before loading. The caller
 * closes the returned checkpoint.
 */
export async function openModel(spec: string): Promise<{ ckpt: Checkpoint; config: ModelConfig }> {
  const ckpt = await openCheckpoint(spec);
  try {
    if (ckpt.config === null) throw new CliError(`${ckpt.location}: no config.json`);
    const config = parseConfig(ckpt.config, ckpt.configFile);
    validateCheckpoint(ckpt, config, { projector: config.chat !== null, quant: checkpointQuantization(ckpt.config, ckpt.configFile) });
    return { ckpt, config };
  } catch (e) {
    await ckpt.close();
    throw e;
  }
}

export async function inspectModel(spec: string): Promise<{
  location: string; config: ModelConfig; checkpoint: CheckpointSummary;
  /** The checkpoint's pre-quantization, if any, and its linear weights' float dtype otherwise. */
  quant: CheckpointQuant | null; linearDType: FloatDType | null;
}> {
  const { ckpt, config } = await openModel(spec);
  try {
    const qkv = [...ckpt.tensors.values()].find((t) => t.name.endsWith('attn.qkv.weight'));
    const linearDType = qkv && isFloatDType(qkv.dtype) ? qkv.dtype : null;
    return { location: ckpt.location, config, checkpoint: summarizeCheckpoint(ckpt), quant: checkpointQuantization(ckpt.config, ckpt.configFile), linearDType };
  } finally {
    await ckpt.close();
  }
}

export interface CheckpointSummary {
  tensors: number;
  bytes: number;
  dtypes: string;
  files: number;
  skipped: number;
}

export function summarizeCheckpoint(ckpt: Checkpoint): CheckpointSummary {
  const byDtype = new Map<string, number>();
  let bytes = 0;
  for (const t of ckpt.tensors.values()) {
    byDtype.set(t.dtype, (byDtype.get(t.dtype) ?? 0) + 1);
    bytes += t.byteLength;
  }
  const dtypes = [...byDtype].sort((a, b) => b[1] - a[1]).map(([d, n]) => (byDtype.size > 1 ? `${n} ${d}` : d)).join(', ');
  return { tensors: ckpt.tensors.size, bytes, dtypes, files: ckpt.files.length, skipped: ckpt.skipped.length };
}

export function checkpointLine(location: string, s: CheckpointSummary): string {
  const skipped = s.skipped ? `; ${s.skipped} language-model tensors not read` : '';
  return `checkpoint: ${location}: ${s.tensors} tensors (${s.dtypes}), ${(s.bytes / 1e6).toFixed(1)} MB in ${s.files} file${s.files === 1 ? '' : 's'}${skipped}`;
}

/** Checks pixel_values against the model before anything runs (patch grid; pixel shuffle needs an even one). */
export function checkPixelsForModel(shape: readonly number[], config: ModelConfig, where: string, forTokens = false): void {
  checkPixelsShape(shape, where);
  const [, , h, w] = shape as [number, number, number, number];
  let grid;
  try {
    grid = tokenGrid(config.vision, h, w);
  } catch (e) {
    throw new CliError(`${where}: ${(e as Error).message}`);
  }
  if (forTokens && (grid.hp % 2 || grid.wp % 2)) {
    throw new CliError(`${where}: ${h}×${w} pixels make a ${grid.hp}×${grid.wp} patch grid; InternVL's pixel shuffle needs an even one (use ${config.chat?.imageSize ?? 448}×${config.chat?.imageSize ?? 448} tiles)`);
  }
}

/** The tile side a model is fed by default: the chat model's force_image_size, else the encoder's image_size. */
export function modelImageSize(config: ModelConfig): number {
  return config.chat?.imageSize ?? config.vision.imageSize;
}

/** Reference files next to a model: pixels.safetensors + expected.safetensors, or why there are none. */
export type Reference =
  | { pixels: Pixels; expected: Map<string, { shape: number[]; data: Float32Array }>; file: string }
  | { missing: string };

export const REFERENCE_FILES = { pixels: 'pixels.safetensors', expected: 'expected.safetensors' } as const;

export async function readReference(store: CheckpointStore): Promise<Reference> {
  const read = async (name: string): Promise<{ bytes: Uint8Array; file: string } | null> => {
    const src = store.open(name);
    try {
      const size = await src.size();
      return { bytes: await src.read(0, size), file: src.name };
    } catch (e) {
      if (e instanceof FileNotFoundError) return null;
      throw e;
    }
  };
  const [px, ex] = await Promise.all([read(REFERENCE_FILES.pixels), read(REFERENCE_FILES.expected)]);
  if (!px || !ex) {
    const absent = [!px && REFERENCE_FILES.pixels, !ex && REFERENCE_FILES.expected].filter(Boolean).join(' and ');
    return { missing: `no ${absent} in ${store.location}` };
  }
  const pixelsFile = readSafetensorsFloat32(px.bytes, px.file);
  const pixels = pixelsFile.get(PIXELS_NAME);
  if (!pixels) throw new CliError(`${px.file}: no tensor '${PIXELS_NAME}'`);
  checkPixelsShape(pixels.shape, px.file);
  return { pixels: { data: pixels.data, shape: pixels.shape }, expected: readSafetensorsFloat32(ex.bytes, ex.file), file: ex.file };
}
