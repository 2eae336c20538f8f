// `internvit preprocess`: an image → pixel_values (T, 3, S, S), exactly as InternVL / CLIP prepare it.
import { describeGpu, preprocess as preprocessImage } from '../src/internal.js';
import {
  checkOutputPath, formatMs, limitsFlag, LIMITS_USAGE, now, outputSummary, parseFlags, requireFlag, shapeText, withGpu, writeOutput, type Io,
} from './cli.js';
import { describeTiles, IMAGE_FLAGS, IMAGE_FLAGS_USAGE, imageOptions, PIXELS_NAME, readImage, tileMetadata } from './inputs.js';

export const PREPROCESS_USAGE = `preprocess --image FILE --output OUT [options]
    writes F32 pixel_values (T, 3, S, S): the tiles in InternVL's order (row-major grid, thumbnail
    last), resized with Pillow's bicubic and normalized with the ImageNet mean/std, on the GPU
    --image FILE      PNG or JPEG
    --output OUT      the .safetensors file to write
${LIMITS_USAGE}
${IMAGE_FLAGS_USAGE} (default 448)`;

export async function preprocess(args: string[], io: Io): Promise<number> {
  const values = parseFlags('preprocess', args, { image: { type: 'string' }, output: { type: 'string' }, limits: { type: 'string' }, ...IMAGE_FLAGS });
  if (!values) {
    io.out(`usage: internvit ${PREPROCESS_USAGE}`);
    return 0;
  }
  const imagePath = requireFlag('preprocess', values, 'image', '<file.png|jpg>');
  const outPath = requireFlag('preprocess', values, 'output', '<out.safetensors>');
  const opts = imageOptions(values, 448);
  const limits = limitsFlag(values);
  await checkOutputPath(outPath);
  const image = await readImage(imagePath, opts);

  return withGpu(io, async (gpu) => {
    io.err(describeGpu(gpu));
    const { preprocess: mode, ...rest } = opts;
    const t = now();
    const px = await preprocessImage(gpu, image, { ...rest, mode });
    io.err(describeTiles(image, px.grid, px.tiles, opts));
    io.err(`preprocess ${shapeText(px.shape)}: ${formatMs(now() - t)} (first run: includes pipeline compilation)`);
    const outputs = { [PIXELS_NAME]: { shape: px.shape, data: px.pixelValues } };
    await writeOutput(outPath, outputs, tileMetadata(image, opts, px));
    io.err(outputSummary(outPath, outputs));
    return 0;
  }, limits);
}
