// The internvit command line as a function: argv in, exit code out, every line through `io`. The
// executable (bin/internvit.ts) calls it with the process's streams; tests call it in-process.
//
// Errors: every failure is one line, `internvit: <message>`, and a non-zero exit code (2 for
// command-line mistakes, 1 otherwise); INTERNVIT_DEBUG=1 adds the stack trace.
import { CliError, oneLine, usageError, type Io } from './cli.js';
import { embed, EMBED_USAGE } from './embed.js';
import { embedDataset, EMBED_DATASET_USAGE } from './dataset/command.js';
import { features, FEATURES_USAGE } from './features.js';
import { packageVersion } from './inputs.js';
import { info, INFO_USAGE } from './info.js';
import { preprocess, PREPROCESS_USAGE } from './preprocess.js';
import { quantize, QUANTIZE_USAGE } from './quantize.js';
import { run, RUN_USAGE } from './run.js';
import { selfcheck, SELFCHECK_USAGE } from './selfcheck.js';
import { tokens, TOKENS_USAGE } from './tokens.js';
import { tune, TUNE_USAGE_TEXT } from './tune.js';

type Command = (args: string[], io: Io) => Promise<number>;

const commands: Record<string, { run: Command; usage: string }> = {
  run: { run, usage: RUN_USAGE },
  embed: { run: embed, usage: EMBED_USAGE },
  tokens: { run: tokens, usage: TOKENS_USAGE },
  preprocess: { run: preprocess, usage: PREPROCESS_USAGE },
  info: { run: info, usage: INFO_USAGE },
  // selfcheck keeps its own output and device handling (console, its --software flag).
  selfcheck: { run: (args) => selfcheck(args), usage: SELFCHECK_USAGE },
  'embed-dataset': { run: embedDataset, usage: EMBED_DATASET_USAGE },
  features: { run: features, usage: FEATURES_USAGE },
  quantize: { run: quantize, usage: QUANTIZE_USAGE },
  tune: { run: tune, usage: TUNE_USAGE_TEXT },
};
export const COMMANDS = Object.keys(commands);
const DEFAULT_COMMAND = 'run';

function usage(): string {
  return [
    'usage: internvit [command] [options]        (internvit --version: the package version)',
    '',
    'commands:',
    ...Object.values(commands).map((c) => `  ${c.usage.split('\n').join('\n  ')}\n`),
    `With no command, runs "${DEFAULT_COMMAND}". "internvit <command> --help" describes a command.`,
    'Models: a local folder, a URL prefix, or a Hugging Face id (org/name) holding config.json + *.safetensors.',
  ].join('\n');
}

async function dispatch(argv: string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === 'help' || first === '--help' || first === '-h') {
    const c = rest[0] !== undefined && Object.hasOwn(commands, rest[0]) ? commands[rest[0]] : undefined;
    if (c) return c.run(['--help'], io);
    io.out(usage());
    return 0;
  }
  if (first === '--version' || first === '-v') {
    io.out(`internvit-webgpu ${packageVersion()}`);
    return 0;
  }
  if (first === undefined || first.startsWith('-')) return commands[DEFAULT_COMMAND]!.run(argv, io);
  const command = Object.hasOwn(commands, first) ? commands[first] : undefined;
  if (!command) throw usageError(`unknown command '${first}' (commands: ${COMMANDS.join(', ')}; see "internvit --help")`);
  return command.run(rest, io);
}

const debug = () => process.env.INTERNVIT_DEBUG === '1';

/** One line for any error; programming errors say so, and INTERNVIT_DEBUG=1 adds the stack. Returns the exit code. */
export function reportError(e: unknown, io: Io): number {
  const err = e instanceof Error ? e : new Error(String(e));
  const internal = err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError || err instanceof SyntaxError;
  const hint = internal && !debug() ? ' (internal error; INTERNVIT_DEBUG=1 prints the stack trace)' : '';
  io.err(`internvit: ${internal ? `${err.name}: ` : ''}${oneLine(err.message)}${hint}`);
  if (debug() && err.stack) io.err(err.stack);
  return err instanceof CliError ? err.exitCode : 1;
}

export async function main(argv: string[], io: Io): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (e) {
    return reportError(e, io);
  }
}
