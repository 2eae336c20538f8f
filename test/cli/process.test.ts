// The built executable as users run it (vite.lib.config.ts, the same build as dist/internvit.js):
// every user error is exit ≠ 0 with exactly one stderr line `internvit: …` and no stack trace, found
// before a GPU is touched; --help everywhere; one GPU command end to end in a real process (the
// device must be destroyed before exit or Dawn aborts; stderr carries only our lines unless
// INTERNVIT_DEBUG=1); the default model found from any directory.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/runtime/safetensors.js';
import { at, buildCli, readOutputs, spawnCli, tempDir, type ProcessResult } from './harness.js';

const LN = 'test/fixtures/model/layernorm-f32';
const CHAT = 'test/fixtures/internvl/v2-bf16';
const PNG = 'test/fixtures/preprocess/sources/a_37x23.png';

describe('internvit executable', () => {
  let cli: ReturnType<typeof buildCli>;
  const tmp = tempDir();
  const file = (name: string) => join(tmp, name);
  const out = () => file('out.safetensors');

  beforeAll(() => {
    const t = performance.now();
    cli = buildCli();
    console.log(`built ${cli.js} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const px = (shape: number[], dtype: 'F32' | 'F16' = 'F32', name = 'pixel_values') =>
      writeSafetensors({ [name]: { dtype, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) } });
    writeFileSync(file('wrong-name.safetensors'), px([1, 3, 28, 28], 'F32', 'images'));
    writeFileSync(file('wrong-shape.safetensors'), px([1, 28, 28]));
    writeFileSync(file('wrong-dtype.safetensors'), px([1, 3, 28, 28], 'F16'));
    writeFileSync(file('too-small.safetensors'), px([1, 3, 10, 10]));
    writeFileSync(file('odd-grid.safetensors'), px([1, 3, 42, 42]));
    writeFileSync(file('garbage.safetensors'), 'this is not a safetensors file at all');
  }, 300_000);
  afterAll(() => {
    cli?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  const run = (args: string[], opts?: Parameters<typeof spawnCli>[2]): ProcessResult => spawnCli(cli.js, args, opts);

  const userErrors: [string, string[], RegExp][] = [
    ['unknown subcommand', ['frobnicate'], /unknown command 'frobnicate' \(commands: run, embed, tokens, preprocess, info, selfcheck/],
    ['unknown flag', ['embed', '--bogus'], /embed: unknown option --bogus/],
    ['unknown flag of the main job', ['--modle', LN], /run: unknown option --modle/],
    ['stray argument', ['info', 'InternViT-300M-448px'], /info: unexpected argument 'InternViT-300M-448px'/],
    ['flag without its value', ['embed', '--model'], /embed: .*--model/],
    ['required flag missing', ['embed', '--model', LN, '--pixels', `${LN}/pixels.safetensors`], /embed: --output <out\.safetensors> is required/],
    ['both inputs', ['embed', '--model', LN, '--pixels', `${LN}/pixels.safetensors`, '--image', PNG, '--output', 'x'], /exactly one of --pixels/],
    ['missing --pixels file', ['embed', '--model', LN, '--pixels', 'no/such/pixels.safetensors', '--output', 'OUT'], /--pixels no\/such\/pixels\.safetensors: no such file/],
    ['--pixels is a folder', ['embed', '--model', LN, '--pixels', LN, '--output', 'OUT'], /--pixels .*layernorm-f32 is a folder; give a \.safetensors file/],
    ['bad safetensors', ['embed', '--model', LN, '--pixels', 'TMP/garbage.safetensors', '--output', 'OUT'], /garbage\.safetensors: header length \d+ is absurd/],
    ['wrong tensor name', ['embed', '--model', LN, '--pixels', 'TMP/wrong-name.safetensors', '--output', 'OUT'], /no tensor 'pixel_values' \(the file has 'images'\)/],
    ['wrong tensor shape', ['embed', '--model', LN, '--pixels', 'TMP/wrong-shape.safetensors', '--output', 'OUT'], /'pixel_values' has shape \[1, 28, 28\]; expected \(B, 3, H, W\)/],
    ['wrong tensor dtype', ['embed', '--model', LN, '--pixels', 'TMP/wrong-dtype.safetensors', '--output', 'OUT'], /'pixel_values' is F16; expected F32/],
    ['pixels smaller than a patch', ['embed', '--model', LN, '--pixels', 'TMP/too-small.safetensors', '--output', 'OUT'], /input 10×10 is smaller than one 14×14 patch/],
    ['odd grid for pixel shuffle', ['tokens', '--model', CHAT, '--pixels', 'TMP/odd-grid.safetensors', '--output', 'OUT'], /3×3 patch grid; InternVL's pixel shuffle needs an even one/],
    ['image flags with --pixels', ['embed', '--model', LN, '--pixels', `${LN}/pixels.safetensors`, '--mode', 'clip', '--output', 'OUT'], /--mode only apply to --image/],
    ['model folder not found', ['embed', '--model', 'no/such/model/dir', '--pixels', `${LN}/pixels.safetensors`, '--output', 'OUT'], /no\/such\/model\/dir: no such folder/],
    ['folder without a model', ['run', '--model', 'test/fixtures/preprocess'], /test\/fixtures\/preprocess.*(model\.safetensors|config\.json)/],
    ['standalone model for tokens', ['tokens', '--model', LN, '--pixels', `${LN}/pixels.safetensors`, '--output', 'OUT'], /standalone InternViT checkpoint; image tokens need an InternVL chat checkpoint/],
    ['output folder missing', ['embed', '--model', LN, '--pixels', `${LN}/pixels.safetensors`, '--output', 'no/such/dir/out.safetensors'], /--output no\/such\/dir\/out\.safetensors: folder .* does not exist/],
    ['missing image', ['preprocess', '--image', 'no/such.png', '--output', 'OUT'], /--image no\/such\.png: no such file/],
    ['not an image', ['preprocess', '--image', `${LN}/config.json`, '--output', 'OUT'], /unsupported format/],
    ['unknown --mode', ['preprocess', '--image', PNG, '--mode', 'squash', '--output', 'OUT'], /--mode must be one of internvl, clip, none \(got 'squash'\)/],
    ['bad --max-tiles', ['preprocess', '--image', PNG, '--max-tiles', '0', '--output', 'OUT'], /--max-tiles must be an integer ≥ 1 \(got '0'\)/],
    ['tile flags outside internvl mode', ['preprocess', '--image', PNG, '--mode', 'clip', '--max-tiles', '4', '--output', 'OUT'], /apply to --mode internvl only/],
    ['bad --runs', ['run', '--runs', 'many'], /--runs must be an integer ≥ 1 \(got 'many'\)/],
    ['unknown --weights', ['embed', '--model', LN, '--pixels', `${LN}/pixels.safetensors`, '--weights', 'int3', '--output', 'OUT'], /--weights must be one of auto, f32, bf16, f16, .*\(got 'int3'\)/],
    ['unknown preset name', ['info', '--model', 'InternViT-9B'], /unknown model 'InternViT-9B': .*presets \(no download\): InternViT-300M-448px, /],
  ];

  for (const [what, args, message] of userErrors) {
    it(`user error, ${what}: exit ≠ 0, one line "internvit: …", no stack trace`, () => {
      const r = run(args.map((a) => a.replace(/^TMP\//, `${tmp}/`).replace(/^OUT$/, out())));
      const lines = r.stderr.trimEnd().split('\n');
      expect(r.signal).toBeNull();
      expect(r.code, r.stderr).not.toBe(0);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^internvit: /);
      expect(lines[0]).toMatch(message);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.stdout).toBe('');
      expect(existsSync(out())).toBe(false);
    });
  }

  it('exit codes: 2 for command-line mistakes, 1 for bad inputs; INTERNVIT_DEBUG=1 adds the stack', () => {
    expect(run(['frobnicate']).code).toBe(2);
    expect(run(['embed', '--bogus']).code).toBe(2);
    const bad = ['embed', '--model', LN, '--pixels', `${tmp}/wrong-dtype.safetensors`, '--output', out()];
    expect(run(bad).code).toBe(1);
    const debug = run(bad, { env: { INTERNVIT_DEBUG: '1' } });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/^internvit: .*is F16; expected F32\n/);
    expect(debug.stderr).toMatch(/^\s+at .*(inputs|readPixels)/m);
  });

  it('--help for the program and every subcommand', () => {
    expect(run(['--version']).stdout).toMatch(/^internvit-webgpu \d+\.\d+\.\d+/);
    const top = run(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^usage: internvit \[command\] \[options\]/);
    for (const cmd of ['run', 'embed', 'tokens', 'preprocess', 'info', 'selfcheck', 'features', 'tune']) {
      const r = run([cmd, '--help']);
      expect(r.code, `${cmd} --help`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: internvit ${cmd} `));
      expect(top.stdout).toContain(`  ${cmd} `);
    }
  });

  it('the default model is found next to the package, whatever the working directory', () => {
    const r = run(['run', '--help'], { cwd: tmp });
    expect(r.code).toBe(0);
    const dir = /^default model: (.*)$/m.exec(r.stdout)?.[1];
    expect(dir).toBe(at('models/internvit-tiny'));
    expect(existsSync(join(dir!, 'expected.safetensors'))).toBe(true);
  });

  it('info on a preset needs no GPU and no network', () => {
    const r = run(['info', '--model', 'OpenGVLab/InternViT-6B-448px-V2_5', '--size', '224']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^model: InternViT-6B-448px-V2_5 \(preset/m);
    expect(r.stdout).toMatch(/^encoder: 45 layers, hidden 3200, 25 heads × 128, MLP 12800, rms_norm \+ QK norm/m);
    expect(r.stdout).toMatch(/^at 224×224: 257 tokens \(16×16 patches \+ CLS\)/m);
  });

  it('preprocess in a real process: output equals Python\'s pixel_values, the device is released, exit 0', () => {
    const target = file('a.safetensors');
    const r = run(['preprocess', '--image', PNG, '--size', '28', '--max-tiles', '6', '--output', target]);
    console.log(r.stderr);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^adapter: /m);
    expect(r.stderr).toMatch(/37×23 → grid 3×2 \+ thumbnail = 7 tiles of 28×28 \(internvl\)/);
    const got = readOutputs(target).get('pixel_values')!;
    expect(got.shape).toEqual([7, 3, 28, 28]);
    const buf = readFileSync(at('test/fixtures/preprocess/internvl_a_max6.f32'));
    const want = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    expect(got.data.every((v, i) => v === want[i])).toBe(true);
    // Stderr carries internvit's lines only: no driver or Dawn warnings, no XDG_RUNTIME_DIR errors.
    const ours = [/^adapter: /, /^image .*a_37x23\.png: /, /^preprocess \(7, 3, 28, 28\): /, /^wrote /];
    expect(r.stderr.trimEnd().split('\n').map((line) => ours.findIndex((re) => re.test(line))), r.stderr).toEqual([0, 1, 2, 3]);
  }, 300_000);

  it('INTERNVIT_DEBUG=1 shows what the drivers print too (one process)', () => {
    const r = run(['preprocess', '--image', PNG, '--size', '28', '--output', file('b.safetensors')], { env: { INTERNVIT_DEBUG: '1' } });
    console.log(r.stderr);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^adapter: /m);
    // Dawn prints this for lavapipe (and NVIDIA) at every adapter request; SwiftShader gets no warning.
    if (/llvmpipe/.test(r.stderr)) expect(r.stderr).toMatch(/^Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced/m);
    else console.log('not lavapipe: no known driver line to look for');
  }, 300_000);
});
