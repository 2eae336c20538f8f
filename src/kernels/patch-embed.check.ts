import { patchEmbed, patchEmbedReference, type PatchEmbedConfig } from './patch-embed.js';
import { runOnce } from '../runtime/run-once.js';
import { compare, randomArray, type KernelCheck } from './check-harness.js';

// imageSize sets the position grid G = imageSize / p; H×W sets the patch grid ⌊H/p⌋×⌊W/p⌋ (ragged
// images drop their last pixels). Grids equal to G use the table directly, others go through the
// bicubic resize. Shapes cross the 64×64 GEMM tile in M (B·tokens) and in D, and the 16-wide K step.
const cases: { B: number; H: number; W: number; cfg: PatchEmbedConfig }[] = [
  { B: 2, H: 14, W: 14, cfg: { patchSize: 14, imageSize: 56, hidden: 16 } },   // 1×1 grid, down from 4×4
  { B: 2, H: 28, W: 42, cfg: { patchSize: 14, imageSize: 56, hidden: 13 } },   // 2×3, non-square
  { B: 2, H: 47, W: 61, cfg: { patchSize: 14, imageSize: 56, hidden: 24 } },   // 3×4, not multiples of 14
  { B: 2, H: 56, W: 56, cfg: { patchSize: 14, imageSize: 56, hidden: 8 } },    // identity position table
  { B: 2, H: 112, W: 126, cfg: { patchSize: 14, imageSize: 56, hidden: 70 } }, // 8×9 up; M=146, D=70 cross tiles
  { B: 2, H: 45, W: 37, cfg: { patchSize: 5, imageSize: 40, hidden: 20 } },    // p=5: K=75 ragged vs 16
  { B: 1, H: 448, W: 448, cfg: { patchSize: 14, imageSize: 448, hidden: 8 } }, // N=1025 tokens, 32×32 identity
];

export const checks: KernelCheck[] = cases.map(({ B, H, W, cfg }, i) => ({
  name: `patchEmbed B=${B} ${H}×${W} p=${cfg.patchSize} D=${cfg.hidden} (pos grid ${cfg.imageSize / cfg.patchSize}²)`,
  async run(gpu) {
    const { patchSize: p, hidden: D } = cfg;
    const G = cfg.imageSize / p;
    const seed = 2000 + 10 * i;
    const host = {
      pixels: { data: randomArray(B * 3 * H * W, seed, -2, 2.5), shape: [B, 3, H, W] },
      patchWeight: { data: randomArray(D * 3 * p * p, seed + 1, -0.1, 0.1), shape: [D, 3, p, p] },
      patchBias: { data: randomArray(D, seed + 2, -0.5, 0.5), shape: [D] },
      classEmbedding: { data: randomArray(D, seed + 3), shape: [1, 1, D] },
      positionEmbedding: { data: randomArray((G * G + 1) * D, seed + 4), shape: [1, G * G + 1, D] },
    };
    const out = await runOnce(gpu, host, (plan, r) => ({
      y: patchEmbed(plan, r.pixels!, {
        patchWeight: r.patchWeight!, patchBias: r.patchBias!, classEmbedding: r.classEmbedding!, positionEmbedding: r.positionEmbedding!,
      }, cfg),
    }));
    const want = patchEmbedReference(host.pixels.data, host.pixels.shape, {
      patchWeight: host.patchWeight.data, patchBias: host.patchBias.data,
      classEmbedding: host.classEmbedding.data, positionEmbedding: host.positionEmbedding.data,
    }, cfg);
    return compare(this.name, out.y as Float32Array, want);
  },
}));
