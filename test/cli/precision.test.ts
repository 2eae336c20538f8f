// --precision on the CLI: run's parity switches to the per-token cosine contract in f16, a bad value
// is a usage error, and `selfcheck --precision` selects the f16-compute checks by name.
import { describe, expect, it } from 'vitest';
import { checksForPrecision } from '../../bin/selfcheck.js';
import { loadCheckModules } from '../../src/kernels/check-suite.js';
import { isF16Check } from '../../src/kernels/check-harness.js';
import { useGpu } from '../node-gpu.js';
import { at, runCli } from './harness.js';

describe('internvit --precision', () => {
  const gpu = useGpu();

  it('a value other than f32, f16, auto is a usage error (exit 2) naming the flag', async () => {
    const r = await runCli(['embed', '--model', at('test/fixtures/model/layernorm-f32'), '--pixels', 'x.safetensors', '--output', 'o.safetensors', '--precision', 'fp16'], gpu());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--precision must be one of f32, f16, auto \(got 'fp16'\)/);
  });

  it('run --precision f16: parity by per-token cosine, PASS on a massive-activation fixture', async (ctx) => {
    if (!gpu().features.shaderF16) ctx.skip("the adapter has no 'shader-f16'");
    const r = await runCli(['run', '--model', at('test/fixtures/model/massive-rmsnorm'), '--precision', 'f16', '--runs', '1'], gpu());
    console.log(r.stdout.split('\n').filter((l) => /precision|cosine|PASS|FAIL/.test(l)).join('\n'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^precision: f16 \(/m);
    expect(r.stdout).toMatch(/precision f16: per-token cosine ≥ 0\.9995/);
    expect(r.stdout).toMatch(/last_hidden_state .* min token cosine (0\.99\d{5}|1\.0{7}) {2}0 non-finite/);
    expect(r.stdout).toMatch(/^PASS: \d+ outputs \(precision f16\)/m);
  }, 600_000);
});

describe('selfcheck --precision selects checks by name', () => {
  it('f16: only the f16-compute variants, of every kernel that has one; f32: none of them', async () => {
    const modules = await loadCheckModules();
    const f16 = checksForPrecision(modules, 'f16').flatMap((m) => m.checks.map((c) => c.name));
    const f32 = checksForPrecision(modules, 'f32').flatMap((m) => m.checks.map((c) => c.name));
    const all = checksForPrecision(modules, 'auto').flatMap((m) => m.checks.map((c) => c.name));
    const norms = ['layernorm f16 out', 'rmsnorm f16 out', 'qkRmsNorm f16'].flatMap((p) => ['subgroup', 'workgroup'].map((v) => p.replace(' ', ` ${v} `)));
    for (const prefix of ['matmul f16 tiled:', 'matmul f16 tiled64:', 'attention f16 fused', ...norms]) {
      expect(f16.some((n) => n.startsWith(prefix)), prefix).toBe(true);
    }
    expect(f16.every(isF16Check)).toBe(true);
    expect(f32.some(isF16Check)).toBe(false);
    // f32-compute checks with 16-bit weights ("… f16 w") are f32 checks.
    expect(f32.some((n) => n.startsWith('matmul tiled:') && n.endsWith('f16 w'))).toBe(true);
    expect(f16.length + f32.length).toBe(all.length);
  });
});
