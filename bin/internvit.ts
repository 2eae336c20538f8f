// The internvit command: a thin dispatcher. Each subcommand lives in its own module under bin/ and
// parses its own flags. With no subcommand it runs the main job (for now: selfcheck).
import { selfcheck, SELFCHECK_USAGE } from './selfcheck.js';

type Command = (args: string[]) => Promise<number>;

const commands: Record<string, { run: Command; usage: string }> = {
  selfcheck: { run: selfcheck, usage: SELFCHECK_USAGE },
};
const DEFAULT_COMMAND = 'selfcheck';

function usage(): string {
  return [
    'usage: internvit [command] [options]',
    '',
    'commands:',
    ...Object.values(commands).map((c) => `  ${c.usage.split('\n').join('\n  ')}`),
    '',
    `With no command, runs "${DEFAULT_COMMAND}". "internvit <command> --help" describes a command.`,
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === 'help' || first === '--help' || first === '-h') {
    console.log(usage());
    return 0;
  }
  if (first === undefined || first.startsWith('-')) return commands[DEFAULT_COMMAND]!.run(argv);
  const command = commands[first];
  if (!command) {
    console.error(`internvit: unknown command "${first}"\n\n${usage()}`);
    return 2;
  }
  return command.run(rest);
}

process.exitCode = await main(process.argv.slice(2));
