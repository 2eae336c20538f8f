// Every kernel version table the autotuner may time (src/runtime/tuner.ts). A table belongs here
// once each of its versions is covered by the kernel checks (src/kernels/<kernel>.check.ts): only listed
// tables are tuned; an op of an unlisted table records its heuristic. Adding a kernel is one line.
import type { VersionTable } from '../runtime/versions.js';
import { ATTENTION_VERSIONS } from './attention.js';
import { MATMUL_VERSIONS } from './matmul.js';

export const VERSION_TABLES: readonly VersionTable<any>[] = [
  MATMUL_VERSIONS,
  ATTENTION_VERSIONS,
];
