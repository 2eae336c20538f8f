// `internvit tokens`: an InternVL chat checkpoint's image tokens (encoder → pixel shuffle → mlp1).
import { describeGpu, disposeTensor, InternViT, preprocess, type HostOutput } from '../src/index.js';
import {
  CliError, checkOutputPath, formatMs, now, outputSummary, parseFlags, requireFlag, shapeText, stringFlag,
  usageError, withGpu, writeOutput, type Io,
} from './cli.js';
import {
  checkPixelsForModel, checkpointLine, describeTiles, IMAGE_FLAGS, IMAGE_FLAGS_USAGE, imageOptions, inspectModel,
  modelImageSize, readImage, readPixels, rejectImageFlags,
} from './inputs.js';

export const TOKENS_USAGE = `tokens --model M (--image FILE | --pixels IN) --output OUT [options]
    InternVL chat checkpoints: writes F32 image_tokens (T, tokens per tile, LLM hidden), the embeddings
    the language model receives for the image (256 per 448 px tile in InternVL 2/2.5)
    --model M         InternVL chat checkpoint folder, URL, or Hugging Face id (org/name)
    --image FILE      PNG or JPEG, preprocessed on the GPU into tiles
    --pixels IN       safetensors holding F32 pixel_values (T, 3, S, S), already normalized
    --output OUT      the .safetensors file to write
${IMAGE_FLAGS_USAGE} (default: the model's force_image_size)`;

export async function tokens(args: string[], io: Io): Promise<number> {
  const values = parseFlags('tokens', args, {
    model: { type: 'string' }, pixels: { type: 'string' }, image: { type: 'string' }, output: { type: 'string' }, ...IMAGE_FLAGS,
  });
  if (!values) {
    io.out(`usage: internvit ${TOKENS_USAGE}`);
    return 0;
  }
  const modelSpec = requireFlag('tokens', values, 'model', '<folder|url|org/name>');
  const pixelsPath = stringFlag(values, 'pixels');
  const imagePath = stringFlag(values, 'image');
  if ((pixelsPath === undefined) === (imagePath === undefined)) throw usageError('tokens: give exactly one of --image <file> and --pixels <file.safetensors>');
  const outPath = requireFlag('tokens', values, 'output', '<out.safetensors>');

  await checkOutputPath(outPath);
  const model = await inspectModel(modelSpec);
  const chat = model.config.chat;
  if (!chat) {
    throw new CliError(`${model.location} is a standalone InternViT checkpoint; image tokens need an InternVL chat checkpoint (config.json with vision_config and llm_config). "internvit embed" gives its encoder outputs`);
  }
  let pixels: Awaited<ReturnType<typeof readPixels>> | undefined;
  let image: Awaited<ReturnType<typeof readImage>> | undefined;
  let opts: ReturnType<typeof imageOptions> | undefined;
  if (pixelsPath !== undefined) {
    rejectImageFlags(values);
    pixels = await readPixels(pixelsPath);
    checkPixelsForModel(pixels.shape, model.config, pixelsPath, true);
  } else {
    opts = imageOptions(values, modelImageSize(model.config));
    checkPixelsForModel([1, 3, opts.size, opts.size], model.config, `--size ${opts.size}`, true);
    image = await readImage(imagePath!);
  }

  return withGpu(io, async (gpu) => {
    io.err(describeGpu(gpu));
    io.err(checkpointLine(model.location, model.checkpoint));
    let t = now();
    const vit = await InternViT.load(modelSpec, { gpu });
    try {
      io.err(`load: ${formatMs(now() - t)}`);
      let out: HostOutput;
      const meta: Record<string, string> = { model: model.location };
      if (pixels) {
        t = now();
        out = await vit.imageTokensFromPixels(pixels.data, pixels.shape);
        io.err(`image tokens ${shapeText(pixels.shape)}: ${formatMs(now() - t)} (first run: includes pipeline compilation)`);
        meta.source = pixelsPath!;
      } else {
        const { preprocess: mode, ...rest } = opts!;
        t = now();
        const px = await preprocess(gpu, image!, { ...rest, mode, output: 'gpu' });
        io.err(describeTiles(image!, px.grid, px.tiles, opts!));
        io.err(`preprocess: ${formatMs(now() - t)} (first run: includes pipeline compilation)`);
        try {
          t = now();
          out = await vit.imageTokensFromPixels(px.pixelValues, px.shape);
          io.err(`image tokens ${shapeText(px.shape)}: ${formatMs(now() - t)} (first run: includes pipeline compilation)`);
        } finally {
          disposeTensor(gpu, px.pixelValues);
        }
        Object.assign(meta, { source: image!.name, mode, size: String(opts!.size), grid: `${px.grid.cols}x${px.grid.rows}`, tiles: String(px.tiles) });
      }
      const outputs = { image_tokens: out };
      t = now();
      await writeOutput(outPath, outputs, meta);
      io.err(`${outputSummary(outPath, outputs)} in ${formatMs(now() - t)}`);
      return 0;
    } finally {
      vit.dispose();
    }
  });
}
