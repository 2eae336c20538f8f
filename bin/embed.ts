// `internvit embed`: pixel_values or an image → encoder outputs in a safetensors file.
import { describeGpu, disposeTensor, InternViT, preprocess, type ForwardResult, type HostOutput } from '../src/index.js';
import {
  checkOutputPath, formatMs, now, outputSummary, parseFlags, requireFlag, shapeText, stringFlag, usageError,
  withGpu, writeOutput, type F32Output, type Io,
} from './cli.js';
import {
  checkPixelsForModel, checkpointLine, describeTiles, IMAGE_FLAGS, IMAGE_FLAGS_USAGE, imageOptions, inspectModel,
  modelImageSize, readImage, readPixels, rejectImageFlags,
} from './inputs.js';

export const EMBED_USAGE = `embed --model M (--pixels IN | --image FILE) --output OUT [options]
    runs the encoder; writes F32 last_hidden_state (B, N, D) and pooler_output (B, D)
    --model M         checkpoint folder, URL, or Hugging Face id (org/name): InternViT or InternVL chat
    --pixels IN       safetensors holding F32 pixel_values (B, 3, H, W), already normalized
    --image FILE      PNG or JPEG, preprocessed on the GPU into tiles (B = tile count)
    --output OUT      the .safetensors file to write
    --hidden-states   also write hidden_states.0 (embeddings) … hidden_states.L (after layer L)
${IMAGE_FLAGS_USAGE} (default: the model's image size)`;

export async function embed(args: string[], io: Io): Promise<number> {
  const values = parseFlags('embed', args, {
    model: { type: 'string' }, pixels: { type: 'string' }, image: { type: 'string' }, output: { type: 'string' },
    'hidden-states': { type: 'boolean' }, ...IMAGE_FLAGS,
  });
  if (!values) {
    io.out(`usage: internvit ${EMBED_USAGE}`);
    return 0;
  }
  const modelSpec = requireFlag('embed', values, 'model', '<folder|url|org/name>');
  const pixelsPath = stringFlag(values, 'pixels');
  const imagePath = stringFlag(values, 'image');
  if ((pixelsPath === undefined) === (imagePath === undefined)) throw usageError('embed: give exactly one of --pixels <file.safetensors> and --image <file>');
  const outPath = requireFlag('embed', values, 'output', '<out.safetensors>');
  const hiddenStates = values['hidden-states'] === true;

  // Everything that can be wrong with the inputs is found before the GPU starts.
  await checkOutputPath(outPath);
  const model = await inspectModel(modelSpec);
  let input: { kind: 'pixels'; pixels: Awaited<ReturnType<typeof readPixels>> } | { kind: 'image'; image: Awaited<ReturnType<typeof readImage>>; opts: ReturnType<typeof imageOptions> };
  if (pixelsPath !== undefined) {
    rejectImageFlags(values);
    const pixels = await readPixels(pixelsPath);
    checkPixelsForModel(pixels.shape, model.config, pixelsPath);
    input = { kind: 'pixels', pixels };
  } else {
    const opts = imageOptions(values, modelImageSize(model.config));
    input = { kind: 'image', image: await readImage(imagePath!), opts };
  }

  return withGpu(io, async (gpu) => {
    io.err(describeGpu(gpu));
    io.err(checkpointLine(model.location, model.checkpoint));
    let t = now();
    const vit = await InternViT.load(modelSpec, { gpu });
    try {
      io.err(`load: ${formatMs(now() - t)}`);
      let result: ForwardResult;
      const meta: Record<string, string> = { model: model.location };
      if (input.kind === 'pixels') {
        t = now();
        result = await vit.embedPixels(input.pixels.data, input.pixels.shape, { hiddenStates });
        io.err(`forward ${shapeText(input.pixels.shape)}: ${formatMs(now() - t)} (first run: includes pipeline compilation)`);
        meta.source = pixelsPath!;
      } else {
        const { image, opts } = input;
        const { preprocess: mode, ...rest } = opts;
        t = now();
        const px = await preprocess(gpu, image, { ...rest, mode, output: 'gpu' });
        io.err(describeTiles(image, px.grid, px.tiles, opts));
        io.err(`preprocess: ${formatMs(now() - t)} (first run: includes pipeline compilation)`);
        try {
          t = now();
          result = await vit.embedPixels(px.pixelValues, px.shape, { hiddenStates });
          io.err(`forward ${shapeText(px.shape)}: ${formatMs(now() - t)} (first run: includes pipeline compilation)`);
        } finally {
          disposeTensor(gpu, px.pixelValues);
        }
        Object.assign(meta, { source: image.name, mode, size: String(opts.size), grid: `${px.grid.cols}x${px.grid.rows}`, tiles: String(px.tiles) });
      }
      const outputs: Record<string, F32Output> = { last_hidden_state: result.lastHiddenState, pooler_output: result.poolerOutput };
      result.hiddenStates?.forEach((h: HostOutput, i: number) => { outputs[`hidden_states.${i}`] = h; });
      t = now();
      await writeOutput(outPath, outputs, meta);
      io.err(`${outputSummary(outPath, outputs)} in ${formatMs(now() - t)}`);
      return 0;
    } finally {
      vit.dispose();
    }
  });
}
