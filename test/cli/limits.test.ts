// --limits default|adapter on the GPU commands, and INTERNVIT_LIMITS: a bad value is a usage error
// (exit 2) before any GPU work; `--limits default` acquires a device with WebGPU's default limits and
// the command's output is still exact (preprocess vs Python's pixel_values, bit for bit).
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { useGpu } from '../node-gpu.js';
import { at, readOutputs, runCli, tempDir } from './harness.js';

const SOURCES = 'test/fixtures/preprocess/sources';

describe('internvit --limits', () => {
  const tmp = tempDir();
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const out = join(tmp, 'out.safetensors');

  const commands: [string, string[]][] = [
    ['embed', ['embed', '--model', 'm', '--pixels', 'p.safetensors', '--output', out]],
    ['tokens', ['tokens', '--model', 'm', '--pixels', 'p.safetensors', '--output', out]],
    ['run', ['run', '--model', 'm']],
    ['tune', ['tune', '--model', 'm']],
    ['preprocess', ['preprocess', '--image', 'x.png', '--output', out]],
    ['selfcheck', ['selfcheck', '--filter', 'gelu']],
    ['embed-dataset', ['embed-dataset', '--model', 'm', '--input', 'x.png', '--output', join(tmp, 'ds')]],
    ['info --gpu', ['info', '--model', 'InternViT-300M-448px-V2_5', '--gpu']],
  ];
  for (const [name, args] of commands) {
    it(`${name} --limits huge is a usage error (exit 2) naming the choices`, async () => {
      // selfcheck prints with console.error (it runs outside the io of the other commands).
      const printed: string[] = [];
      const spy = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => { printed.push(a.join(' ')); });
      let r;
      try {
        r = await runCli([...args, '--limits', 'huge']);
      } finally {
        spy.mockRestore();
      }
      expect(r.code).toBe(2);
      const text = `${r.stderr}${printed.join('\n')}`;
      expect(text).toMatch(name === 'selfcheck' ? /^internvit selfcheck: --limits must be one of default, adapter \(got 'huge'\)/ : /^internvit: --limits must be one of default, adapter \(got 'huge'\)$/);
      expect(`${r.stdout}${text}`).not.toMatch(/\n\s+at /); // no stack trace
    });
  }

  it('a bad INTERNVIT_LIMITS is a usage error before any file is read or GPU acquired', async () => {
    const saved = process.env.INTERNVIT_LIMITS;
    process.env.INTERNVIT_LIMITS = 'max';
    try {
      const r = await runCli(['preprocess', '--image', `${SOURCES}/a_37x23.png`, '--output', out]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe("internvit: INTERNVIT_LIMITS must be 'default' or 'adapter' (got 'max')");
    } finally {
      if (saved === undefined) delete process.env.INTERNVIT_LIMITS;
      else process.env.INTERNVIT_LIMITS = saved;
    }
  });

  it('preprocess --limits default runs on a default-limits device and equals Python bit for bit', async () => {
    const r = await runCli(['preprocess', '--image', `${SOURCES}/a_37x23.png`, '--mode', 'clip', '--size', '28', '--output', out, '--limits', 'default']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/; limits: default \(bindings 128 MiB, buffers 256 MiB\)/);
    const got = readOutputs(out).get('pixel_values')!;
    expect(got.shape).toEqual([1, 3, 28, 28]);
    const cases = (JSON.parse(readFileSync(at('test/fixtures/preprocess/cases.json'), 'utf8')) as { cases: { name: string; floatsFile?: string; size: number }[] }).cases;
    const c = cases.find((x) => x.name === 'clip_a')!;
    expect(c.size).toBe(28);
    const buf = readFileSync(at('test/fixtures/preprocess', c.floatsFile!));
    expect(Array.from(got.data)).toEqual(Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4)));
  }, 300_000);

  it("info --gpu --limits default: the largest batch per pass on WebGPU's default limits (nothing loaded)", async () => {
    const r = await runCli(['info', '--model', 'InternViT-300M-448px-V2_5', '--gpu', '--limits', 'default']);
    expect(r.code).toBe(0);
    console.log(r.stdout);
    expect(r.stdout).toMatch(/limits: default \(bindings 128 MiB, buffers 256 MiB\)/);
    // fc1's activation, 1025 tokens × 4096 × 4 bytes per image, against 128 MiB: 7 images per pass.
    expect(r.stdout).toMatch(/one pass on this device takes up to 7 images at 448×448 \(8 would break .*op 'encoder\.layers\.0\.mlp\.fc1', binding 'y' needs 134348800 bytes/);
  }, 120_000);

  describe('with a borrowed device', () => {
    const gpu = useGpu();
    it('--limits that contradict the device it is given is an error, not silently ignored', async () => {
      const r = await runCli(['preprocess', '--image', `${SOURCES}/a_37x23.png`, '--output', out, '--limits', 'default'], gpu());
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`internvit: --limits default was asked for, but the device this command was given has limits '${gpu().limitsMode}'`);
    });
  });
});
