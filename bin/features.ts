// `internvit features`: an image's patch-feature map (stitched from InternVL's tiles on the GPU) in a
// safetensors file, and the pictures people look at: PCA colours, similarity to a clicked pixel,
// k-means labels, each a PNG at the image's size.
import { writeFile } from 'node:fs/promises';
import {
  blendOver, cellAtPixel, cellSimilarity, describeGpu, heatCellColors, InternViT, kmeans, labelCellColors, pca, pcaCellColors,
  upscaleCells, type FeatureMapResult, type RgbaImage,
} from '../src/internal.js';
import {
  CliError, checkOutputPath, formatMs, intFlag, now, outputSummary, parseFlags, requireFlag, shapeText, stringFlag, usageError,
  TUNE_USAGE, tuneFlag, weightsFlag, WEIGHTS_USAGE, withGpu, writeOutput, type F32Output, type Io,
} from './cli.js';
import { checkpointLine, describeTiles, IMAGE_FLAGS, IMAGE_FLAGS_USAGE, imageOptions, inspectModel, modelImageSize, readImage, tileMetadata } from './inputs.js';

export const FEATURES_USAGE = `features --model M --image FILE --output OUT [options]
    writes F32 features (D, H', W'): the patch tokens of one layer (CLS dropped) as a map, InternVL's
    grid tiles stitched in the image's layout (H' = rows·S/p, W' = cols·S/p), and thumbnail (D, h, w)
    --model M         checkpoint folder, URL, or Hugging Face id (org/name)
    --image FILE      PNG or JPEG
    --output OUT      the .safetensors file to write (metadata: grid, patch size, region each cell covers)
    --layer L         hidden state to map: 0 = embeddings … L = after the last layer (default), −1 = last
    --no-stitch       features (T, D, h, w): every tile's map, the thumbnail last
    --pca PNG         the map's top 3 principal components as RGB, at the image's size
    --similarity X,Y  cosine similarity of every cell to the cell under image pixel (X, Y) …
    --png PNG         … written here as a heatmap at the image's size
    --clusters K      k-means (seeded) into K groups: labels (H', W') I32 in OUT, and a PNG …
    --clusters-png PNG  … written here (default: OUT with .clusters.png)
    --overlay         blend the PNGs over the image
${WEIGHTS_USAGE}
${TUNE_USAGE}
${IMAGE_FLAGS_USAGE} (default: the model's image size)`;

const FLAGS = {
  model: { type: 'string' }, image: { type: 'string' }, output: { type: 'string' }, weights: { type: 'string' }, tune: { type: 'string' },
  layer: { type: 'string' }, 'no-stitch': { type: 'boolean' }, pca: { type: 'string' }, similarity: { type: 'string' },
  png: { type: 'string' }, clusters: { type: 'string' }, 'clusters-png': { type: 'string' }, overlay: { type: 'boolean' },
  ...IMAGE_FLAGS,
} as const;

function layerFlag(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\s*-?\d+\s*$/.test(v)) throw usageError(`--layer must be an integer (got '${v}')`);
  return Number(v);
}

function pointFlag(v: string | undefined): [number, number] | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(v);
  if (!m) throw usageError(`--similarity must be X,Y pixel coordinates such as 120,80 (got '${v}')`);
  return [Number(m[1]), Number(m[2])];
}

async function writePng(path: string, img: RgbaImage): Promise<void> {
  const { PNG } = await import('pngjs');
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  try {
    await writeFile(path, PNG.sync.write(png));
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

export async function features(args: string[], io: Io): Promise<number> {
  const values = parseFlags('features', args, FLAGS);
  if (!values) {
    io.out(`usage: internvit ${FEATURES_USAGE}`);
    return 0;
  }
  const modelSpec = requireFlag('features', values, 'model', '<folder|url|org/name>');
  const imagePath = requireFlag('features', values, 'image', '<file>');
  const outPath = requireFlag('features', values, 'output', '<out.safetensors>');
  const weightStorage = weightsFlag(values);
  const tune = tuneFlag(values, io);
  const layer = layerFlag(stringFlag(values, 'layer'));
  const stitch = values['no-stitch'] !== true;
  const pcaPath = stringFlag(values, 'pca');
  const point = pointFlag(stringFlag(values, 'similarity'));
  const simPath = stringFlag(values, 'png');
  const k = intFlag(values, 'clusters', 1);
  const clusterPath = k === undefined ? undefined : stringFlag(values, 'clusters-png') ?? `${outPath.replace(/\.safetensors$/, '')}.clusters.png`;
  if ((point === undefined) !== (simPath === undefined)) throw usageError('features: --similarity X,Y and --png OUT.png go together');
  if (values['clusters-png'] !== undefined && k === undefined) throw usageError('features: --clusters-png needs --clusters K');
  const views = pcaPath ?? simPath ?? clusterPath;
  if (!stitch && views !== undefined) throw usageError('features: --pca, --similarity and --clusters draw the stitched map; leave out --no-stitch');
  if (values.overlay && views === undefined) throw usageError('features: --overlay blends a picture: add --pca, --similarity or --clusters');

  for (const p of [outPath, pcaPath, simPath, clusterPath]) if (p !== undefined) await checkOutputPath(p);
  const model = await inspectModel(modelSpec);
  const opts = imageOptions(values, modelImageSize(model.config));
  const image = await readImage(imagePath, opts);
  if (point && (point[0] >= image.width || point[1] >= image.height)) {
    throw usageError(`features: --similarity ${point.join(',')} is outside the ${image.width}×${image.height} image`);
  }

  return withGpu(io, async (gpu) => {
    io.err(describeGpu(gpu));
    io.err(checkpointLine(model.location, model.checkpoint));
    let t = now();
    const vit = await InternViT.load(modelSpec, { gpu, weightStorage, tune });
    let fm: FeatureMapResult;
    try {
      io.err(`load: ${formatMs(now() - t)}`);
      t = now();
      fm = await vit.featureMap(image, { ...opts, layer, stitch });
      io.err(describeTiles(image, fm.tiles.grid, fm.tiles.count, opts));
      io.err(`feature map of layer ${fm.layer} ${shapeText(fm.features.shape)}: ${formatMs(now() - t)} (first run: includes pipeline compilation)`);
    } finally {
      vit.dispose();
    }
    const outputs: Record<string, F32Output> = { features: fm.features };
    if (fm.thumbnailFeatures) outputs.thumbnail = fm.thumbnailFeatures;
    const [, rows, cols] = fm.features.shape as [number, number, number];
    const picture = async (path: string, cells: Uint8ClampedArray, what: string) => {
      let img = upscaleCells(cells, rows, cols, fm);
      if (values.overlay) img = blendOver(image, img, 0.6);
      await writePng(path, img);
      io.err(`wrote ${path}: ${what}, ${img.width}×${img.height}${values.overlay ? ' over the image' : ''}`);
    };
    if (pcaPath) {
      t = now();
      const p = pca(fm.features, Math.min(3, rows * cols, fm.features.shape[0]!));
      io.err(`pca: ${formatMs(now() - t)}; variance of the top components ${Array.from(p.variances, (v) => v.toPrecision(3)).join(', ')}`);
      await picture(pcaPath, pcaCellColors(p, rows * cols), 'top 3 principal components as RGB');
    }
    if (point && simPath) {
      const cell = cellAtPixel(fm, rows, cols, point[0], point[1]);
      if (!cell) throw new CliError(`features: pixel ${point.join(',')} lies outside the ${opts.preprocess} crop the map covers (${JSON.stringify(fm.region)})`);
      await picture(simPath, heatCellColors(cellSimilarity(fm.features, cell.y, cell.x)), `cosine similarity to cell (${cell.y}, ${cell.x}) under pixel ${point.join(',')}`);
    }
    let labels: Int32Array | undefined;
    if (k !== undefined && clusterPath) {
      if (k > rows * cols) throw usageError(`features: --clusters ${k} is more than the map's ${rows * cols} cells`);
      t = now();
      const km = kmeans(fm.features, k);
      labels = km.labels;
      io.err(`k-means (K = ${k}): ${km.iterations} iterations, ${formatMs(now() - t)}`);
      await picture(clusterPath, labelCellColors(labels), `${k} clusters`);
    }
    t = now();
    const meta = {
      model: model.location, ...tileMetadata(image, opts, { grid: fm.tiles.grid, tiles: fm.tiles.count }),
      layer: String(fm.layer), stitched: String(fm.stitched), thumbnail: String(fm.thumbnail), patch_size: String(fm.patchSize),
      patch_grid: `${fm.patchGrid[0]}x${fm.patchGrid[1]}`, image_size: `${fm.image.width}x${fm.image.height}`,
      // Cell (y, x) of features covers region.x + x·region.width/W' … in source pixels (the thumbnail: the whole image).
      region: JSON.stringify(fm.region),
    };
    await writeOutput(outPath, outputs, meta, labels ? { labels: { dtype: 'I32', shape: [rows, cols], data: labels } } : {});
    io.err(`${outputSummary(outPath, outputs)} in ${formatMs(now() - t)}${labels ? `; labels (${rows}, ${cols}) I32` : ''}`);
    return 0;
  });
}
