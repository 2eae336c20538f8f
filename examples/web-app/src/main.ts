// The README's web-app path as an app: load the model once, then for each picked image show the
// embedding (pooler output) and a PCA picture of the first tile's patch features. The weights are
// kept in the browser's Cache Storage, so a reload fetches none; the button empties that cache.
// ?model=<URL prefix or hub id> picks the checkpoint (default: the bundled tiny test model, served
// from the package's folder by `npm run dev` / the proof test; its weights are random).
import { InternViT, imageGrid, patchFeatureGrid, pcaPicture, type EmbedResult, type LoadProgress } from 'internvit-webgpu';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const modelUrl = new URLSearchParams(location.search).get('model') ?? '/node_modules/internvit-webgpu/models/internvit-tiny/';

// Set in onProgress (a cast, so TypeScript does not narrow it to undefined after the await).
let weights = undefined as Extract<LoadProgress, { stage: 'weights' }> | undefined;
const model = await InternViT.load(modelUrl, {
  onProgress: (p) => {
    if (p.stage === 'weights') weights = p;
    $('status').textContent = p.stage === 'weights' ? `weights ${p.bytesDone} / ${p.bytesTotal} bytes` : `opening ${p.file}`;
  },
});
$('status').textContent = model.describe();
$('cache').textContent = weights ? `weights: ${weights.bytesFromCache} bytes from the cache, ${weights.bytesFromNetwork} from the network` : '';

async function clearCachedWeights(): Promise<number> {
  const files = await InternViT.clearCache();
  $('cache').textContent = `removed ${files} cached file(s)`;
  return files;
}
$('clear-cache').onclick = () => void clearCachedWeights();

async function show(result: EmbedResult): Promise<void> {
  const pooled = Array.from(result.poolerOutput.data.slice(0, 8), (v) => v.toFixed(4));
  $('embedding').textContent = `pooler output (${result.poolerOutput.shape.join('×')}): ${pooled.join(', ')} …`;
  const picture = pcaPicture(imageGrid(patchFeatureGrid(result.lastHiddenState), 0));
  const canvas = $<HTMLCanvasElement>('pca');
  [canvas.width, canvas.height] = [picture.width, picture.height];
  canvas.getContext('2d')!.putImageData(new ImageData(picture.data, picture.width, picture.height), 0, 0);
}

const input = $<HTMLInputElement>('image');
input.disabled = false;
input.onchange = async () => {
  const file = input.files?.[0];
  if (file) await show(await model.embed(file)).catch((e: Error) => { $('status').textContent = e.message; });
};

// For automated checks (test/package/packed-app.test.ts drives the built app through this).
declare global {
  interface Window { app?: { model: InternViT; show: typeof show; weights?: typeof weights; clearCachedWeights: typeof clearCachedWeights } }
}
window.app = { model, show, weights, clearCachedWeights };
