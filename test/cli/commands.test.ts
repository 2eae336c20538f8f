// The subcommands in-process (bin/main.ts) on one shared device, against references computed
// outside this code: PyTorch outputs (test/fixtures/model, test/fixtures/internvl, test/cli/fixtures)
// and Pillow/torchvision pixel_values (test/fixtures/preprocess). The encoder runs use few shapes
// (28×28 with 1 tile; 56×56 with 2 tiles) so SwiftShader compiles each pipeline once.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/runtime/safetensors.js';
import { useGpu } from '../node-gpu.js';
import { at, expectClose, readOutputs, runCli, safetensorsMetadata, tempDir } from './harness.js';

const LN = 'test/fixtures/model/layernorm-f32';
const CHAT = 'test/fixtures/internvl/v2-bf16';
const SOURCES = 'test/fixtures/preprocess/sources';

interface PreprocessCase {
  name: string; source: string; mode: string; size: number; minTiles?: number; maxTiles?: number; thumbnail?: boolean;
  grid: [number, number]; tiles: number; floatsFile?: string;
}
const preprocessCases = (JSON.parse(readFileSync(at('test/fixtures/preprocess/cases.json'), 'utf8')) as { cases: PreprocessCase[] }).cases;

describe('internvit subcommands (in-process, shared device)', () => {
  const gpu = useGpu();
  const tmp = tempDir();
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('embed --pixels --hidden-states: every output of layernorm-f32 matches PyTorch', async () => {
    const out = join(tmp, 'embed-pixels.safetensors');
    const r = await runCli(['embed', '--model', LN, '--pixels', `${LN}/pixels.safetensors`, '--output', out, '--hidden-states'], gpu());
    console.log(r.stderr);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^adapter: /);
    expect(r.stderr).toMatch(/^load: /m);
    expect(r.stderr).toMatch(/^forward \(1, 3, 28, 28\): .*pipeline compilation/m);
    const got = readOutputs(out);
    const want = readOutputs(at(LN, 'expected.safetensors'));
    expect([...got.keys()]).toEqual(['last_hidden_state', 'pooler_output', 'hidden_states.0', 'hidden_states.1', 'hidden_states.2']);
    for (const [name, w] of want) expectClose(`embed --pixels ${name}`, got.get(name), w);
  }, 300_000);

  it('embed --image: a PNG → one InternVL tile → encoder outputs match PyTorch on the Pillow tile', async () => {
    // test/cli/make_fixtures.py: the reference on the pixel_values Pillow + torchvision make of this PNG.
    const ref = readOutputs(at('test/cli/fixtures/embed-image-k_28x50.safetensors'));
    const out = join(tmp, 'embed-image.safetensors');
    const r = await runCli(['embed', '--model', LN, '--image', `${SOURCES}/k_28x50.png`, '--max-tiles', '1', '--output', out, '--hidden-states'], gpu());
    console.log(r.stderr);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/image .*k_28x50\.png: 28×50 → grid 1×1 = 1 tile of 28×28 \(internvl\)/);
    const got = readOutputs(out);
    for (const [name, w] of ref) if (name !== 'pixel_values') expectClose(`embed --image ${name}`, got.get(name), w);
    expect(safetensorsMetadata(out)).toMatchObject({ mode: 'internvl', size: '28', grid: '1x1', tiles: '1' });
  });

  it('run (the main job) on layernorm-f32: parity PASS, timings, per-kernel GPU times', async () => {
    const r = await runCli(['run', '--model', LN, '--runs', '2'], gpu());
    console.log(r.stdout);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^adapter: /);
    expect(r.stdout).toMatch(/InternViT: 2 layers, hidden 32/);
    expect(r.stdout).toMatch(/^weights on the GPU: [\d.]+ MB \(all f32\)$/m); // an F32 checkpoint
    for (const name of ['last_hidden_state', 'pooler_output', 'hidden_states.0', 'hidden_states.2']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${name.replace('.', '\\.')} +\\(.*max \\|err\\| .* of tolerance$`, 'm'));
    }
    expect(r.stdout).toMatch(/^PASS: 5 outputs, worst \d+\.\d% of tolerance$/m);
    expect(r.stdout).toMatch(/^ {2}load +\d/m);
    expect(r.stdout).toMatch(/^ {2}first forward \(incl\. pipeline compilation\) +\d/m);
    expect(r.stdout).toMatch(/^ {2}steady state, median of 2 +\d/m);
    if (gpu().features.timestamps) expect(r.stdout).toMatch(/^kernel +calls +GPU ms[\s\S]*^total +\d+/m);
    else expect(r.stdout).toMatch(/GPU time per kernel: unavailable/);
  });

  it('run --weights: a BF16 checkpoint keeps bf16 linear weights by default, f32 on request; both PASS', async () => {
    const model = 'test/fixtures/model/ragged-47x61';
    const auto = await runCli(['run', '--model', model, '--runs', '1'], gpu());
    expect(auto.code, auto.stdout).toBe(0);
    expect(auto.stdout).toMatch(/^weights on the GPU: [\d.]+ MB \(8 linear weights in bf16, the rest f32\)$/m);
    expect(auto.stdout).toMatch(/^PASS: /m);
    const f32 = await runCli(['run', '--model', model, '--runs', '1', '--weights', 'f32'], gpu());
    expect(f32.code, f32.stdout).toBe(0);
    expect(f32.stdout).toMatch(/^weights on the GPU: [\d.]+ MB \(all f32\)$/m);
    expect(f32.stdout).toMatch(/^PASS: /m);
  });

  it('run: expected outputs that disagree → FAIL and exit 1', async () => {
    const dir = join(tmp, 'wrong-expected');
    mkdirSync(dir);
    for (const f of ['config.json', 'model.safetensors', 'pixels.safetensors']) copyFileSync(at(LN, f), join(dir, f));
    const want = readOutputs(at(LN, 'expected.safetensors'));
    const lhs = want.get('last_hidden_state')!;
    lhs.data[3]! += 0.01; // 20× the tolerance at |want| ≈ 1
    writeFileSync(join(dir, 'expected.safetensors'), writeSafetensors(Object.fromEntries([...want].map(([k, v]) => [k, { dtype: 'F32', shape: v.shape, data: v.data }]))));
    const r = await runCli(['run', '--model', dir, '--runs', '1'], gpu());
    console.log(r.stdout);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ {2}last_hidden_state .* of tolerance {2}FAIL$/m);
    expect(r.stdout).toMatch(/^ {2}pooler_output .* of tolerance$/m);
    expect(r.stdout).toMatch(/^FAIL: 5 outputs/m);
  });

  it('run: a model folder without reference outputs runs on random pixels and says parity was skipped', async () => {
    const dir = join(tmp, 'user-model');
    mkdirSync(dir);
    for (const f of ['config.json', 'model.safetensors']) copyFileSync(at(LN, f), join(dir, f));
    const r = await runCli(['run', '--model', dir, '--runs', '1'], gpu());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^parity: skipped \(no pixels\.safetensors and expected\.safetensors in .*user-model\)/m);
    expect(r.stdout).toMatch(/^timings, input \(1, 3, 28, 28\), random pixels:/m);
  });

  it('tokens --pixels: InternVL v2-bf16 image tokens match PyTorch', async () => {
    const out = join(tmp, 'tokens.safetensors');
    const r = await runCli(['tokens', '--model', CHAT, '--pixels', `${CHAT}/pixels.safetensors`, '--output', out], gpu());
    console.log(r.stderr);
    expect(r.code).toBe(0);
    const got = readOutputs(out);
    expect([...got.keys()]).toEqual(['image_tokens']);
    expectClose('tokens --pixels image_tokens', got.get('image_tokens'), readOutputs(at(CHAT, 'expected.safetensors')).get('image_tokens')!);
  }, 300_000);

  it('tokens --image: 100×25 PNG, at most 2 tiles, no thumbnail → (2, 4, 48) tokens', async () => {
    const out = join(tmp, 'tokens-image.safetensors');
    const r = await runCli(['tokens', '--model', CHAT, '--image', `${SOURCES}/d_100x25.png`, '--max-tiles', '2', '--no-thumbnail', '--output', out], gpu());
    console.log(r.stderr);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/100×25 → grid 2×1 = 2 tiles of 56×56 \(internvl\)/);
    const t = readOutputs(out).get('image_tokens')!;
    expect(t.shape).toEqual([2, 4, 48]);
    expect(t.data.every(Number.isFinite)).toBe(true);
    expect(safetensorsMetadata(out)).toMatchObject({ grid: '2x1', tiles: '2', size: '56' });
  });

  // Tiles and thumbnail in InternVL order, --no-thumbnail, min tiles, and the other two modes.
  const picked = ['internvl_a_max6', 'internvl_c_max4_nothumb', 'internvl_f_min2_max4', 'clip_a', 'none_b'];
  for (const c of preprocessCases.filter((x) => picked.includes(x.name))) {
    it(`preprocess ${c.name}: ${c.tiles} tiles equal Python's float32 pixel_values bit for bit`, async () => {
      const out = join(tmp, `${c.name}.safetensors`);
      const args = ['preprocess', '--image', `${SOURCES}/${c.source}`, '--mode', c.mode, '--size', String(c.size), '--output', out];
      if (c.mode === 'internvl') {
        args.push('--max-tiles', String(c.maxTiles), '--min-tiles', String(c.minTiles));
        if (c.thumbnail === false) args.push('--no-thumbnail');
      }
      const r = await runCli(args, gpu());
      expect(r.code).toBe(0);
      const got = readOutputs(out).get('pixel_values')!;
      expect(got.shape).toEqual([c.tiles, 3, c.size, c.size]);
      const buf = readFileSync(at('test/fixtures/preprocess', c.floatsFile!));
      const want = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
      let differ = 0;
      for (let i = 0; i < want.length; i++) if (got.data[i] !== want[i]) differ++;
      console.log(`preprocess ${c.name}: ${differ}/${want.length} floats differ from Python`);
      expect(differ).toBe(0);
      expect(safetensorsMetadata(out)).toMatchObject({ mode: c.mode, grid: c.grid.join('x'), tiles: String(c.tiles) });
    });
  }

  it('info: a preset (no download) and a checkpoint folder', async () => {
    const preset = await runCli(['info', '--model', 'InternViT-300M-448px-V2_5']);
    expect(preset.code).toBe(0);
    expect(preset.stdout).toMatch(/preset, shapes only, nothing downloaded/);
    expect(preset.stdout).toMatch(/^encoder: 24 layers, hidden 1024, 16 heads × 64, MLP 4096, layer_norm, qkv bias, patch 14, image_size 448$/m);
    // Counted by hand from InternVisionModel's tensors: embeddings 1024 + 1024·588 + 1024 + 1025·1024 = 1,653,760;
    // a layer 2·2048 (norms) + 3,148,800 (qkv) + 1,049,600 (proj) + 4,198,400 (fc1) + 4,195,328 (fc2) + 2048 (ls) = 12,598,272.
    expect(preset.stdout).toMatch(/^parameters: 304\.0 M \(encoder, 304,012,288\)$/m);
    // Linear weights 24 · (3,145,728 + 1,048,576 + 4,194,304 + 4,194,304) = 301,989,888 at 2 bytes, the other
    // 2,022,400 parameters at 4: 612,069,376 bytes; all at 4: 1,216,049,152. int8: 301,989,888 + one f32 scale per
    // row (24 · 9216 · 4 = 884,736) + 8,089,600 = 310,964,224. int4 (group 32): 150,994,944 + a (scale, offset)
    // pair per 32 inputs (24 · (8192 rows · 32 + 1024 rows · 128) · 8 = 75,497,472) + 8,089,600 = 234,582,016.
    expect(preset.stdout).toMatch(/^weights on the GPU by --weights: f32 1\.22 GB, bf16 612\.1 MB, int8 311\.0 MB, int4 234\.6 MB; auto keeps/m);
    expect(preset.stdout).toMatch(/^at 448×448: 1025 tokens \(32×32 patches \+ CLS\), \d+\.\d GFLOP per image/m);

    const folder = await runCli(['info', '--model', CHAT, '--size', '112']);
    console.log(folder.stdout);
    expect(folder.code).toBe(0);
    expect(folder.stdout).toMatch(/^checkpoint: .*v2-bf16: 38 tensors \(BF16\).*5 language-model tensors not read$/m);
    expect(folder.stdout).toMatch(/^encoder: 2 layers, hidden 32, 2 heads × 16, MLP 128/m);
    expect(folder.stdout).toMatch(/^InternVL projector: pixel shuffle v2 .* mlp1 128 → 48 → 48/m);
    expect(folder.stdout).toMatch(/^at 112×112 per tile: 65 encoder tokens → 16 image tokens of width 48/m);

    const list = await runCli(['info']);
    expect(list.stdout.split('\n').filter((l) => l.startsWith('  InternViT-'))).toHaveLength(4);
  });
});
