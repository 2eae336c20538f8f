// `internvit tune` on the bundled tiny model (in-process, one shared device): it times the versions
// of every matmul shape of the forward, writes the per-adapter cache file and prints the table; a
// second run times nothing and prints the cached table; `run --tune cache` then records the tuned
// choices (describe() says so) and still passes parity.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useGpu } from '../node-gpu.js';
import { at, runCli, tempDir } from './harness.js';

const TINY = at('models', 'internvit-tiny');

describe('internvit tune', () => {
  const gpu = useGpu();
  const dir = tempDir();
  const cache = join(dir, 'tuning.json');
  const saved = process.env.INTERNVIT_TUNING_CACHE;
  beforeAll(() => {
    process.env.INTERNVIT_TUNING_CACHE = cache;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.INTERNVIT_TUNING_CACHE;
    else process.env.INTERNVIT_TUNING_CACHE = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('times every matmul version of the tiny model, caches the choices and prints the table', async () => {
    const r = await runCli(['tune', '--model', TINY], gpu());
    console.log(r.stdout);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`tuning cache: ${cache}`);
    expect(r.stdout).toMatch(/timing: (timestamp queries|wall clock)/);
    // hidden 128, MLP 512, (224/14)² + 1 = 257 tokens: qkv, proj (+ residual), fc1 (+ GELU), fc2 (+ residual).
    expect(r.stdout).toMatch(/4 op shapes \(\* the choice; 4 timed now/);
    for (const key of ['M257 N384 K128', 'M257 N128 K128', 'M257 N512 K128', 'M257 N128 K512']) expect(r.stdout).toContain(`matmul ${key} `);
    expect(r.stdout.match(/^ {2}[* ] (tiled|tiled64|naive) +\d/gm)).toHaveLength(12);
    expect(r.stdout.match(/^ {4}choice: (tiled|tiled64|naive)$/gm)).toHaveLength(4);
    expect(r.stderr).toMatch(/tuned matmul M257 N384 K128 .*: \w+ \(3 of 3 versions timed/);
    expect(existsSync(cache)).toBe(true);
    const doc = JSON.parse(readFileSync(cache, 'utf8'));
    const entries = Object.values(doc.adapters as Record<string, { entries: object }>)[0]!.entries;
    expect(Object.keys(entries)).toHaveLength(4);
  });

  it('a second run reads the cache and times nothing; run --tune cache records the tuned choices', async () => {
    const again = await runCli(['tune', '--model', TINY], gpu());
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/4 op shapes \(\* the choice; 0 timed now/);
    expect(again.stderr).not.toContain('tuned matmul');

    const run = await runCli(['run', '--model', TINY, '--runs', '1', '--tune', 'cache'], gpu());
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`kernel versions (tune 'cache', cache ${cache}: 4 tuned op shapes for this adapter)`);
    // describe() before the first forward lists the versions of a 1×3×224×224 forward: all tuned.
    expect(run.stdout).toContain('a 1×3×224×224 forward:');
    expect(run.stdout.match(/^ {2}matmul M257 .*: (tiled|tiled64|naive) \(tuned: .*\)$/gm)).toHaveLength(4);
    expect(run.stdout).toContain('PASS');
  });

  it('refuses a bad --tune with a usage error', async () => {
    const r = await runCli(['embed', '--model', TINY, '--pixels', 'x.safetensors', '--output', join(dir, 'o.safetensors'), '--tune', 'fastest'], gpu());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--tune must be one of off, cache, fast, full (got 'fastest')");
  });
});
