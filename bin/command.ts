// The internvit executable (built to dist/internvit.js): runs bin/main.ts on the process's argv and
// streams. Each subcommand lives in its own module under bin/ and parses its own flags.
import { destroyAllGpus, processIo } from './cli.js';
import { main, reportError } from './main.js';

// Nothing should escape main(), but if something does: one line, devices destroyed (Dawn aborts
// at exit while a device lives), non-zero exit.
function fatal(e: unknown): void {
  process.exitCode = reportError(e, processIo);
  destroyAllGpus();
  process.exit();
}
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
// `internvit info | head -1`: a closed pipe ends the output, not the process.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') return fatal(e);
  destroyAllGpus();
  process.exit(process.exitCode ?? 0);
});

// Ctrl-C mid-run: release the device, then exit as interrupted processes do.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    destroyAllGpus();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

process.exitCode = await main(process.argv.slice(2), processIo);
