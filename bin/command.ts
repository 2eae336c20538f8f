// The internvit command in this process: runs bin/main.ts on the process's argv and streams, with
// the handlers a process needs (devices destroyed on every exit path). bin/internvit.ts, the
// executable, loads it, in a child process unless INTERNVIT_DEBUG=1 (see bin/quiet-stderr.ts).
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
