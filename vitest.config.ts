import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Kernels run on a software adapter on CPU-only machines: few workers, generous timeouts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    // The autotuner's default mode reads this adapter's cached choices: tests get a cache file of
    // their own for each run, never the user's (~/.cache/internvit-webgpu/tuning.json).
    env: { INTERNVIT_TUNING_CACHE: join(tmpdir(), `internvit-test-tuning-${process.pid}.json`) },
    // The JSON report lets .ci/run print one plain "N passed, N failed, N skipped" line at the end.
    reporters: ['default', 'json'],
    outputFile: { json: 'node_modules/.cache/vitest-report.json' },
  },
});
