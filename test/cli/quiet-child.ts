// A stand-in for bin/internvit.ts in test/cli/quiet-stderr.test.ts: the same parent/child split
// (bin/quiet-stderr.ts), with a child that writes like a driver (fd 2, from "native" code), like
// internvit (process.stderr, console.error) and on stdout, then ends as QUIET_END says.
import { writeSync } from 'node:fs';
import { adoptStderrFd, runQuietly } from '../../bin/quiet-stderr.js';

if (adoptStderrFd()) {
  writeSync(2, 'Warning: a driver line on fd 2\n');
  const end = process.env.QUIET_END ?? 'ok';
  if (end === 'hang') {
    process.stdout.write(`child ${process.pid}\n`);
    setInterval(() => undefined, 1000);
  } else {
    process.stdout.write('report on stdout\n');
  }
  if (end === 'ok' || end === 'error') {
    console.error('internvit: our own line');
    process.stderr.write('internvit: another own line\n');
  }
  if (end === 'tty') console.error(`stderr isTTY=${process.stderr.isTTY} columns=${typeof process.stderr.columns}`);
  if (end === 'error') process.exit(1);
  if (end === 'silent-failure') process.exit(3);
  if (end === 'crash') process.kill(process.pid, 'SIGSEGV');
} else {
  const code = await runQuietly(process.argv[1]!, process.argv.slice(2));
  process.exitCode = code ?? 99;
}
