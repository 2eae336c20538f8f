// The embed demo page: load a checkpoint once, then for each image: embed it twice (cold, then warm),
// show the preprocessed tiles, a PCA-to-RGB picture of the stitched patch-feature map, and the
// similarity of every patch to a clicked one.
//
// Query parameters: ?model=URL-prefix (default /models/internvit-tiny/), ?mode=internvl|clip|none,
// ?maxTiles=N, ?demo=1 (runs on the bundled sample.png without any input; used by the browser test),
// ?webcam=1 (starts the webcam mode at once: webcam.ts).
// The state is published on window.__embedPage for embed-page.browser.test.ts.
import { InternViT } from '../../src/api.js';
import { decodeImage, type DecodedImage } from '../../src/model/image.js';
import { preprocess, type PreprocessMode } from '../../src/model/preprocess.js';
import { describeGpu } from '../../src/runtime/device.js';
import type { LoadProgress } from '../../src/runtime/loader.js';
import type { FeatureMapResult } from '../../src/model/feature-map.js';
import { cellSimilarity, pca, projectCells } from '../../src/features/analysis.js';
import { cellAtPixel, heatCellColors, pcaCellColors, upscaleCells, type RgbaImage } from '../../src/features/render.js';
import { setupWebcam, type WebcamState } from './webcam.js';

export interface EmbedPageState {
  /** True once a run has finished (or failed: see error). */
  done: boolean;
  runs: number;
  error?: string;
  adapter?: string;
  model?: string;
  tiles?: number;
  grid?: { cols: number; rows: number };
  /** Milliseconds. */
  timings?: Record<string, number>;
  /** Variances of the three principal components. */
  variances?: number[];
  /** The similarity view: the stitched map's size, the last query pixel and its cell, queries so far. */
  similarity?: { rows: number; cols: number; pixel: [number, number]; cell: { y: number; x: number }; queries: number };
  /** The webcam mode (?webcam=1 starts it at once). */
  webcam?: WebcamState;
}

declare global {
  interface Window { __embedPage: EmbedPageState }
}

const state: EmbedPageState = { done: false, runs: 0 };
window.__embedPage = state;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const modelUrl = new URL(params.get('model') ?? '/models/internvit-tiny/', location.href).href;
const modeSelect = $<HTMLSelectElement>('mode');
const maxTilesInput = $<HTMLInputElement>('max-tiles');
const runButton = $<HTMLButtonElement>('run');
if (params.has('mode')) modeSelect.value = params.get('mode')!;
if (params.has('maxTiles')) maxTilesInput.value = params.get('maxTiles')!;

let image: DecodedImage | null = null;
let running = false;
const timings: Record<string, number> = {};

function fail(e: unknown): void {
  state.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  $('error').textContent = state.error;
  state.done = true;
  console.error(e);
}

function ms(t: number): string {
  return t >= 1000 ? `${(t / 1000).toFixed(2)} s` : `${t.toFixed(1)} ms`;
}

function showTimings(): void {
  const rows: [string, string][] = [
    ['load', 'load (config, headers, weights → GPU)'],
    ['first', 'embed, first run (preprocess + encode, compiles the plans)'],
    ['second', 'embed, second run (preprocess + encode)'],
    ['tiles', 'preprocess to host (for the tile view)'],
    ['features', 'stitched feature map (preprocess + encode + layout kernel)'],
    ['pca', 'PCA on the CPU'],
    ['similarity', 'similarity view on the CPU (last click)'],
  ];
  $('timings').replaceChildren(...rows.filter(([k]) => timings[k] !== undefined).map(([k, label]) => {
    const tr = document.createElement('tr');
    tr.innerHTML = '<td></td><td class="num"></td>';
    tr.children[0]!.textContent = label;
    tr.children[1]!.textContent = ms(timings[k]!);
    return tr;
  }));
  state.timings = { ...timings };
}

function onProgress(p: LoadProgress): void {
  const bar = $<HTMLProgressElement>('progress');
  if (p.stage === 'open') {
    bar.removeAttribute('value'); // indeterminate while headers are read
    $('load-status').textContent = `reading headers: ${p.file} (${p.filesDone}/${p.filesTotal})`;
  } else {
    bar.value = p.bytesTotal ? p.bytesDone / p.bytesTotal : 1;
    const from = p.bytesFromCache > 0 ? ' (from the browser cache)' : p.bytesFromNetwork > 0 ? ' (from the network)' : '';
    $('load-status').textContent = `weights ${(p.bytesDone / 2 ** 20).toFixed(1)} / ${(p.bytesTotal / 2 ** 20).toFixed(1)} MiB${from}`;
  }
}

async function loadModel(): Promise<InternViT> {
  $('model-url').textContent = modelUrl;
  const t0 = performance.now();
  const model = await InternViT.load(modelUrl, { onProgress });
  timings.load = performance.now() - t0;
  $<HTMLProgressElement>('progress').value = 1;
  $('load-status').textContent = 'loaded';
  state.adapter = describeGpu(model.gpu);
  state.model = model.describe();
  $('adapter').textContent = state.model;
  showTimings();
  return model;
}

const modelReady = loadModel();
modelReady.then(() => { runButton.disabled = image === null; }, fail);
setupWebcam(modelReady, state, params.get('webcam') === '1');

function toCanvas(img: RgbaImage | ImageData, canvas = document.createElement('canvas')): HTMLCanvasElement {
  canvas.width = img.width;
  canvas.height = img.height;
  const data = img instanceof ImageData ? img : new ImageData(img.data as Uint8ClampedArray<ArrayBuffer>, img.width, img.height);
  canvas.getContext('2d')!.putImageData(data, 0, 0);
  return canvas;
}

function figure(canvas: HTMLCanvasElement, caption: string): HTMLElement {
  const f = document.createElement('figure');
  f.className = 'tile';
  const c = document.createElement('figcaption');
  c.textContent = caption;
  f.append(canvas, c);
  return f;
}

/** pixel_values (T, 3, S, S), normalized → one RGBA image per tile. */
function tileImages(pixels: Float32Array, tiles: number, size: number, mean: readonly number[], std: readonly number[]): ImageData[] {
  const plane = size * size;
  return Array.from({ length: tiles }, (_, t) => {
    const img = new ImageData(size, size);
    for (let c = 0; c < 3; c++) {
      const base = (t * 3 + c) * plane;
      for (let i = 0; i < plane; i++) img.data[i * 4 + c] = Math.round((pixels[base + i]! * std[c]! + mean[c]!) * 255);
    }
    for (let i = 0; i < plane; i++) img.data[i * 4 + 3] = 255;
    return img;
  });
}

// "Click a point, see what belongs with it": the stitched feature map of the last run, and the cosine
// similarity of every cell to the cell under the clicked pixel, drawn at the image's size.
let features: FeatureMapResult | null = null;

function showSimilarity(px: number, py: number): void {
  if (!features) return;
  const [, rows, cols] = features.features.shape as [number, number, number];
  const cell = cellAtPixel(features, rows, cols, px, py);
  if (!cell) {
    $('similarity-info').textContent = `pixel ${px},${py} is outside the part of the image the map covers (the crop)`;
    return;
  }
  const t0 = performance.now();
  const picture = upscaleCells(heatCellColors(cellSimilarity(features.features, cell.y, cell.x)), rows, cols, features);
  timings.similarity = performance.now() - t0;
  toCanvas(picture, $<HTMLCanvasElement>('similarity'));
  $('similarity-info').textContent = `pixel ${px},${py} → cell (${cell.y}, ${cell.x}) of the ${rows}×${cols} map (layer ${features.layer}); ` +
    'colour = cosine similarity, −1 dark blue … 1 yellow';
  state.similarity = { rows, cols, pixel: [px, py], cell, queries: (state.similarity?.queries ?? 0) + 1 };
  showTimings();
}

$<HTMLCanvasElement>('similarity').addEventListener('click', (ev) => {
  const canvas = ev.currentTarget as HTMLCanvasElement;
  const r = canvas.getBoundingClientRect(); // border box: the picture starts after the border (clientLeft/Top)
  const px = Math.floor(((ev.clientX - r.left - canvas.clientLeft) * canvas.width) / canvas.clientWidth);
  const py = Math.floor(((ev.clientY - r.top - canvas.clientTop) * canvas.height) / canvas.clientHeight);
  showSimilarity(px, py);
});

async function run(): Promise<void> {
  if (running || !image) return;
  running = true;
  runButton.disabled = true;
  state.done = false;
  state.error = undefined;
  $('error').textContent = '';
  try {
    const model = await modelReady;
    const mode = modeSelect.value as PreprocessMode;
    const maxTiles = Number(maxTilesInput.value);
    if (!Number.isInteger(maxTiles) || maxTiles < 1) throw new Error(`max tiles must be a whole number ≥ 1 (got '${maxTilesInput.value}')`);
    const opts = { preprocess: mode, maxTiles };
    const status = $('run-status');

    status.textContent = 'first run…';
    let t0 = performance.now();
    await model.embed(image, opts);
    timings.first = performance.now() - t0;
    status.textContent = 'second run…';
    t0 = performance.now();
    const result = await model.embed(image, opts);
    timings.second = performance.now() - t0;

    // The tiles as the encoder saw them: the same preprocessing, read back and de-normalized.
    t0 = performance.now();
    const size = model.config.chat?.imageSize ?? model.config.vision.imageSize;
    const pre = await preprocess(model.gpu, image, { mode, maxTiles, size, output: 'host' });
    timings.tiles = performance.now() - t0;
    const { cols, rows } = result.tiles.grid;
    const gridTiles = cols * rows;
    const hasThumb = result.tiles.count > gridTiles;
    const images = tileImages(pre.pixelValues, pre.tiles, size, pre.layout.mean, pre.layout.std);
    const tilesBox = $('tiles');
    tilesBox.style.gridTemplateColumns = `repeat(${cols}, auto)`;
    tilesBox.replaceChildren(...images.slice(0, gridTiles).map((img, i) => figure(toCanvas(img), `tile ${i + 1}`)));
    $('thumb-tile').replaceChildren(...(hasThumb ? [figure(toCanvas(images[gridTiles]!), 'thumbnail')] : []));
    $('tile-count').textContent = `(${result.tiles.count} tiles: ${cols}×${rows} grid${hasThumb ? ' + thumbnail' : ''}, ${size}×${size} px)`;

    // The stitched feature map (grid tiles in the image's layout, the thumbnail apart) feeds both views.
    status.textContent = 'feature map…';
    t0 = performance.now();
    features = await model.featureMap(image, opts);
    timings.features = performance.now() - t0;
    const [dim, mapRows, mapCols] = features.features.shape as [number, number, number];
    const side = features.patchGrid[0];

    // PCA over the map's cells; the thumbnail's cells projected on the same components, one colour scale.
    status.textContent = 'PCA…';
    t0 = performance.now();
    const fit = pca(features.features, 3);
    const thumb = features.thumbnailFeatures ? projectCells(fit, features.thumbnailFeatures) : new Float64Array(0);
    const cells = mapRows * mapCols;
    const colours = pcaCellColors({ projections: Float64Array.from([...fit.projections, ...thumb]), k: fit.k }, cells + thumb.length / fit.k);
    timings.pca = performance.now() - t0;
    const cell = Math.max(1, Math.floor(224 / side));
    const blocks = (rows: number, cols: number, from: number) => upscaleCells(colours.subarray(from * 4, (from + rows * cols) * 4), rows, cols,
      { image: { width: cols * cell, height: rows * cell }, region: { x: 0, y: 0, width: cols * cell, height: rows * cell } });
    toCanvas(blocks(mapRows, mapCols, 0), $<HTMLCanvasElement>('pca'));
    $('pca-thumb-figure').hidden = !hasThumb;
    if (hasThumb) toCanvas(blocks(side, side, cells), $<HTMLCanvasElement>('pca-thumb'));
    const total = fit.variances.reduce((a, v) => a + v, 0);
    $('pca-info').textContent = `${cells} cells (${mapRows}×${mapCols}, ${gridTiles} tiles of ${side}×${side}) + ${hasThumb ? `${side * side} thumbnail cells` : 'no thumbnail'}, ` +
      `D = ${dim}; component variances ${[...fit.variances].map((v) => v.toPrecision(3)).join(', ')}` + (total > 0 ? '' : ' — the features are constant');

    // The similarity view starts at the image's centre.
    showSimilarity(Math.floor(image.width / 2), Math.floor(image.height / 2));

    showTimings();
    status.textContent = '';
    Object.assign(state, { tiles: result.tiles.count, grid: { cols, rows }, variances: [...fit.variances] });
    state.runs++;
    state.done = true;
  } catch (e) {
    fail(e);
  } finally {
    running = false;
    runButton.disabled = false;
  }
}

async function useImage(blob: Blob, name: string): Promise<void> {
  try {
    image = await decodeImage(blob, name);
    const preview = $<HTMLImageElement>('preview');
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(blob);
    preview.style.display = 'block';
    $('image-info').textContent = `${name}: ${image.width}×${image.height}`;
    await run();
  } catch (e) {
    fail(e);
  }
}

$<HTMLInputElement>('file').addEventListener('change', (ev) => {
  const file = (ev.target as HTMLInputElement).files?.[0];
  if (file) void useImage(file, file.name);
});
const drop = $('drop');
drop.addEventListener('dragover', (ev) => {
  ev.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (ev) => {
  ev.preventDefault();
  drop.classList.remove('over');
  const file = ev.dataTransfer?.files[0];
  if (file) void useImage(file, file.name);
});
runButton.addEventListener('click', () => void run());

if (params.get('demo') === '1') {
  fetch(new URL('./sample.png', import.meta.url))
    .then((res) => {
      if (!res.ok) throw new Error(`sample.png: HTTP ${res.status}`);
      return res.blob();
    })
    .then((blob) => useImage(blob, 'sample.png'), fail);
}
