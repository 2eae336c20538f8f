// `internvit embed`: pixel_values or an image → encoder outputs in a safetensors file.
import type { HostOutput } from '../src/internal.js';
import { LIMITS_USAGE, parseFlags, PRECISION_USAGE, TUNE_USAGE, WEIGHTS_USAGE, type F32Output, type Io } from './cli.js';
import { IMAGE_FLAGS_USAGE } from './inputs.js';
import { MODEL_INPUT_FLAGS, runModelCommand } from './model-command.js';

export const EMBED_USAGE = `embed --model M (--pixels IN | --image FILE) --output OUT [options]
    runs the encoder; writes F32 last_hidden_state (B, N, D) and pooler_output (B, D)
    --model M         checkpoint folder, URL, or Hugging Face id (org/name): InternViT or InternVL chat
    --pixels IN       safetensors holding F32 pixel_values (B, 3, H, W), already normalized
    --image FILE      PNG or JPEG, preprocessed on the GPU into tiles (B = tile count)
    --output OUT      the .safetensors file to write
    --hidden-states   also write hidden_states.0 (embeddings) … hidden_states.L (after layer L)
${WEIGHTS_USAGE}
${PRECISION_USAGE}
${TUNE_USAGE}
${LIMITS_USAGE}
${IMAGE_FLAGS_USAGE} (default: the model's image size)`;

export async function embed(args: string[], io: Io): Promise<number> {
  const values = parseFlags('embed', args, { ...MODEL_INPUT_FLAGS, 'hidden-states': { type: 'boolean' } });
  if (!values) {
    io.out(`usage: internvit ${EMBED_USAGE}`);
    return 0;
  }
  const hiddenStates = values['hidden-states'] === true;
  return runModelCommand({
    name: 'embed',
    pixelShuffle: false,
    label: 'forward',
    async forward(vit, pixels, shape) {
      const result = await vit.embedPixels(pixels, shape, { hiddenStates });
      const outputs: Record<string, F32Output> = { last_hidden_state: result.lastHiddenState, pooler_output: result.poolerOutput };
      result.hiddenStates?.forEach((h: HostOutput, i: number) => { outputs[`hidden_states.${i}`] = h; });
      return outputs;
    },
  }, values, io);
}
