// The internvit executable (built to dist/internvit.js). The command itself is bin/command.ts; it
// runs in a child process so that stderr carries only internvit's own lines (bin/quiet-stderr.ts),
// or in this process with INTERNVIT_DEBUG=1, which shows what the drivers print too.
import { adoptStderrFd, runQuietly } from './quiet-stderr.js';

const inProcess = process.env.INTERNVIT_DEBUG === '1' || adoptStderrFd();
const code = inProcess ? null : await runQuietly(process.argv[1]!, process.argv.slice(2));
if (code === null) await import('./command.js');
else process.exitCode = code;
