// What `embed` and `tokens` share: --model, exactly one of --pixels/--image, --output, all read and
// checked against the model before the GPU starts; then the model loaded, pixel_values handed to the
// command's forward (from the file, or preprocessed on the GPU and freed after), and its outputs
// written with metadata naming the source. Each command states only its forward and its checks.
import {
  describeGpu, disposeTensor, InternViT, preprocess, type DecodedImage, type HostArray, type ModelConfig, type Tensor,
} from '../src/internal.js';
import {
  checkOutputPath, formatMs, limitsFlag, now, outputSummary, precisionFlag, requireFlag, shapeText, stringFlag, tuneFlag, usageError, weightsFlag, withGpu, writeOutput,
  type F32Output, type FlagSpec, type FlagValues, type Io,
} from './cli.js';
import {
  checkPixelsForModel, checkpointLine, describeTiles, IMAGE_FLAGS, imageOptions, inspectModel, modelImageSize,
  readImage, readPixels, rejectImageFlags, tileMetadata, type Pixels,
} from './inputs.js';

/** The flags every model command takes (a command adds its own). */
export const MODEL_INPUT_FLAGS: FlagSpec = {
  model: { type: 'string' }, pixels: { type: 'string' }, image: { type: 'string' }, output: { type: 'string' },
  weights: { type: 'string' }, precision: { type: 'string' }, limits: { type: 'string' }, tune: { type: 'string' }, ...IMAGE_FLAGS,
};

export interface ModelCommand {
  name: string;
  /** The forward ends in InternVL's pixel shuffle, which needs an even patch grid (checked up front). */
  pixelShuffle: boolean;
  /** Refuses a model the command cannot use (before anything is read). */
  checkModel?(model: { location: string; config: ModelConfig }): void;
  /** The forward, as the log names it: "forward", "image tokens". */
  label: string;
  /** The forward on pixel_values (B, 3, S, S): a host array or a GPU tensor the caller frees. */
  forward(vit: InternViT, pixels: HostArray | Tensor, shape: readonly number[]): Promise<Record<string, F32Output>>;
}

type Input =
  | { kind: 'pixels'; path: string; pixels: Pixels }
  | { kind: 'image'; image: DecodedImage; opts: ReturnType<typeof imageOptions> };

/** Runs a model command on parsed flags (see MODEL_INPUT_FLAGS); the exit code. */
export async function runModelCommand(cmd: ModelCommand, values: FlagValues, io: Io): Promise<number> {
  const modelSpec = requireFlag(cmd.name, values, 'model', '<folder|url|org/name>');
  const pixelsPath = stringFlag(values, 'pixels');
  const imagePath = stringFlag(values, 'image');
  if ((pixelsPath === undefined) === (imagePath === undefined)) {
    throw usageError(`${cmd.name}: give exactly one of --pixels <file.safetensors> and --image <file>`);
  }
  const outPath = requireFlag(cmd.name, values, 'output', '<out.safetensors>');
  const weightStorage = weightsFlag(values);
  const precision = precisionFlag(values);
  const limits = limitsFlag(values);
  const tune = tuneFlag(values, io);

  // Everything that can be wrong with the inputs is found before the GPU starts.
  await checkOutputPath(outPath);
  const model = await inspectModel(modelSpec);
  cmd.checkModel?.(model);
  let input: Input;
  if (pixelsPath !== undefined) {
    rejectImageFlags(values);
    const pixels = await readPixels(pixelsPath);
    checkPixelsForModel(pixels.shape, model.config, pixelsPath, cmd.pixelShuffle);
    input = { kind: 'pixels', path: pixelsPath, pixels };
  } else {
    const opts = imageOptions(values, modelImageSize(model.config));
    if (cmd.pixelShuffle) checkPixelsForModel([1, 3, opts.size, opts.size], model.config, `--size ${opts.size}`, true);
    input = { kind: 'image', image: await readImage(imagePath!, opts), opts };
  }

  return withGpu(io, async (gpu) => {
    io.err(describeGpu(gpu));
    io.err(checkpointLine(model.location, model.checkpoint));
    let t = now();
    const vit = await InternViT.load(modelSpec, { gpu, weightStorage, precision, tune });
    try {
      io.err(`load: ${formatMs(now() - t)}`);
      const forward = async (pixels: HostArray | Tensor, shape: readonly number[]) => {
        t = now();
        const out = await cmd.forward(vit, pixels, shape);
        io.err(`${cmd.label} ${shapeText(shape)}: ${formatMs(now() - t)} (first run: includes pipeline compilation)`);
        return out;
      };
      let outputs: Record<string, F32Output>;
      let meta: Record<string, string>;
      if (input.kind === 'pixels') {
        outputs = await forward(input.pixels.data, input.pixels.shape);
        meta = { model: model.location, source: input.path };
      } else {
        const { image, opts } = input;
        const { preprocess: mode, ...rest } = opts;
        t = now();
        const px = await preprocess(gpu, image, { ...rest, mode, output: 'gpu' });
        io.err(describeTiles(image, px.grid, px.tiles, opts));
        io.err(`preprocess: ${formatMs(now() - t)} (first run: includes pipeline compilation)`);
        try {
          outputs = await forward(px.pixelValues, px.shape);
        } finally {
          disposeTensor(gpu, px.pixelValues);
        }
        meta = { model: model.location, ...tileMetadata(image, opts, px) };
      }
      t = now();
      await writeOutput(outPath, outputs, meta);
      io.err(`${outputSummary(outPath, outputs)} in ${formatMs(now() - t)}`);
      return 0;
    } finally {
      vit.dispose();
    }
  }, limits);
}
