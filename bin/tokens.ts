// `internvit tokens`: an InternVL chat checkpoint's image tokens (encoder → pixel shuffle → mlp1).
import { CliError, LIMITS_USAGE, parseFlags, PRECISION_USAGE, TUNE_USAGE, WEIGHTS_USAGE, type Io } from './cli.js';
import { IMAGE_FLAGS_USAGE } from './inputs.js';
import { MODEL_INPUT_FLAGS, runModelCommand } from './model-command.js';

export const TOKENS_USAGE = `tokens --model M (--image FILE | --pixels IN) --output OUT [options]
    InternVL chat checkpoints: writes F32 image_tokens (T, tokens per tile, LLM hidden), the embeddings
    the language model receives for the image (256 per 448 px tile in InternVL 2/2.5)
    --model M         InternVL chat checkpoint folder, URL, or Hugging Face id (org/name)
    --image FILE      PNG or JPEG, preprocessed on the GPU into tiles
    --pixels IN       safetensors holding F32 pixel_values (T, 3, S, S), already normalized
    --output OUT      the .safetensors file to write
${WEIGHTS_USAGE}
${PRECISION_USAGE}
${TUNE_USAGE}
${LIMITS_USAGE}
${IMAGE_FLAGS_USAGE} (default: the model's force_image_size)`;

export async function tokens(args: string[], io: Io): Promise<number> {
  const values = parseFlags('tokens', args, MODEL_INPUT_FLAGS);
  if (!values) {
    io.out(`usage: internvit ${TOKENS_USAGE}`);
    return 0;
  }
  return runModelCommand({
    name: 'tokens',
    pixelShuffle: true,
    checkModel({ location, config }) {
      if (!config.chat) {
        throw new CliError(`${location} is a standalone InternViT checkpoint; image tokens need an InternVL chat checkpoint (config.json with vision_config and llm_config). "internvit embed" gives its encoder outputs`);
      }
    },
    label: 'image tokens',
    async forward(vit, pixels, shape) {
      return { image_tokens: await vit.imageTokensFromPixels(pixels, shape) };
    },
  }, values, io);
}
