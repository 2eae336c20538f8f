// Patch-feature maps of a whole image: the chosen layer's patch tokens (CLS dropped) laid out
// channel-first. With InternVL tiling the grid tiles are stitched back into the image's layout on the
// GPU (kernels/feature-layout.ts) in the same command buffer as preprocessing and the encoder, so
// H' = rows·S/p and W' = cols·S/p; the thumbnail's map comes separately. Metadata says which image
// rectangle each feature cell covers, so a cell can be drawn over the source pixels.
import type { HostArray, Stage } from '../runtime/executor.js';
import { runPlans } from '../runtime/executor.js';
import { compilePlan, createPlan, input, output, outputTensor, type CompiledPlan, type Plan } from '../runtime/plan.js';
import type { Tensor } from '../runtime/tensor.js';
import { featureLayout } from '../kernels/feature-layout.js';
import { tokenGrid } from './graph.js';
import { assertRunnable, leaseForwardPlan, maxBatch, type HostOutput, type InternVitEncoder } from './internvit.js';
import type { Lease } from '../runtime/lru.js';
import { clipGeometry, type PreprocessLayout } from './preprocess.js';
import type { Grid } from './tiling.js';
import type { Rect } from '../features/render.js';
import { createGpuOutputs, type GpuOutput, type OutputPlace } from './gpu-io.js';

export interface FeatureMapOptions {
  /** Hidden state to map: 0 = embeddings, l = after layer l; negative counts from the end (−1 = last, the default). */
  layer?: number;
  /** false: every tile's map unstitched, (T, D, h, w), thumbnail included as the last tile (default true). */
  stitch?: boolean;
  /**
   * 'host' (default): maps as Float32Arrays. 'gpu': each map copied (in the same submit) into a new
   * GPUBuffer that the caller owns and destroys (result.buffers); the host maps are then empty.
   */
  output?: OutputPlace;
}

/** What `{ output: 'gpu' }` returns: the maps, shaped as the host maps, in buffers the caller owns. */
export interface FeatureMapGpuOutputs {
  features: GpuOutput;
  thumbnailFeatures?: GpuOutput;
}

export interface FeatureMapMeta {
  /** The hidden-state index mapped (0..L). */
  layer: number;
  /** Tiles fed to the encoder (grid tiles, then the thumbnail when there is one) and InternVL's grid (1×1 for 'clip' and 'none'). */
  tiles: { count: number; grid: Grid };
  thumbnail: boolean;
  stitched: boolean;
  mode: PreprocessLayout['mode'];
  /** Tile size S and patch size p: a tile's map is S/p × S/p cells. */
  tileSize: number;
  patchSize: number;
  /** Cells of one tile's map (rows, cols). */
  patchGrid: [number, number];
  /** The source image's size. */
  image: { width: number; height: number };
  /**
   * The source rectangle the (stitched) map covers: the whole image for 'internvl' and 'none', the
   * center crop for 'clip'. Cell (y, x) of a map of H'×W' cells covers region.x + x·region.width/W' …
   * (see cellRect); the thumbnail's map covers the whole image.
   */
  region: Rect;
}

export interface FeatureMapResult extends FeatureMapMeta {
  /** (D, H', W') stitched, or (T, D, h, w) with stitch: false. */
  features: HostOutput;
  /** The thumbnail tile's map (D, h, w); only when stitched and the image has a thumbnail tile. */
  thumbnailFeatures?: HostOutput;
  /** With output 'gpu': the maps in new GPUBuffers the caller owns and destroys (the host maps' `data` is then empty). */
  buffers?: FeatureMapGpuOutputs;
}

/** The image rectangle under map cell (y, x) of a map of rows × cols cells covering `region`. */
export function cellRect(region: Rect, rows: number, cols: number, y: number, x: number): Rect {
  const w = region.width / cols, h = region.height / rows;
  return { x: region.x + x * w, y: region.y + y * h, width: w, height: h };
}

/** The source rectangle the tiles cover (before the thumbnail), from the preprocessing layout. */
export function mapRegion(layout: PreprocessLayout): Rect {
  if (layout.mode !== 'clip') return { x: 0, y: 0, width: layout.width, height: layout.height };
  const { resizeTo, crop } = clipGeometry(layout.width, layout.height, layout.size);
  const sx = layout.width / resizeTo[0], sy = layout.height / resizeTo[1];
  return { x: crop[0] * sx, y: crop[1] * sy, width: layout.size * sx, height: layout.size * sy };
}

export function resolveLayer(numLayers: number, layer = -1): number {
  const l = layer < 0 ? numLayers + 1 + layer : layer;
  if (!Number.isInteger(layer) || l < 0 || l > numLayers) {
    throw new Error(`featureMap: layer ${layer} is outside 0..${numLayers} (or −${numLayers + 1}..−1 from the end)`);
  }
  return l;
}

/** The stitching plan for one (tiles, grid) shape, leased from the encoder's plan cache (freed with it). */
function leaseLayoutPlan(model: InternVitEncoder, tokens: readonly number[], grid: Grid, thumbnail: boolean, stitch: boolean, patch: [number, number]): Promise<Lease<CompiledPlan>> {
  const key = `features|${tokens.join('x')}|${grid.rows}x${grid.cols}|${thumbnail ? 't' : ''}|${stitch ? 's' : 'u'}`;
  return model.plans.acquire(key, () => compilePlan(recordLayout(model, tokens, grid, thumbnail, stitch, patch)));
}

function recordLayout(model: InternVitEncoder, tokens: readonly number[], grid: Grid, thumbnail: boolean, stitch: boolean, patch: [number, number]): Plan {
  const [T] = tokens as [number];
  const plan = createPlan(model.gpu, `feature map ${tokens.join('×')}`);
  const x = input(plan, 'tokens', tokens);
  const [h, w] = patch;
  if (stitch) {
    output(plan, 'features', featureLayout(plan, x, { patchRows: h, patchCols: w, rows: grid.rows, cols: grid.cols }, 'features.stitch'));
    if (thumbnail) output(plan, 'thumbnail', featureLayout(plan, x, { patchRows: h, patchCols: w, first: T - 1 }, 'features.thumbnail'));
  } else {
    output(plan, 'features', featureLayout(plan, x, { patchRows: h, patchCols: w, maps: T }, 'features.tiles'));
  }
  return plan;
}

/**
 * pixel_values (T, 3, S, S) of an image preprocessed with `layout` → its feature map. Preprocessing
 * stages in `before` run in the same command buffer: one submit. The tiles must fit one pass. With
 * output 'gpu' the maps are copied in that submit into new buffers the caller owns (src/model/gpu-io.ts).
 */
export async function featureMap(
  model: InternVitEncoder, pixels: HostArray | Tensor, shape: readonly number[], layout: PreprocessLayout,
  opts: FeatureMapOptions & { before?: Stage[] } = {},
): Promise<FeatureMapResult> {
  const config = model.config;
  const layer = resolveLayer(config.numLayers, opts.layer);
  const stitch = opts.stitch ?? true;
  if (opts.output !== undefined && opts.output !== 'host' && opts.output !== 'gpu') throw new Error(`output must be 'host' or 'gpu' (got '${String(opts.output)}')`);
  const [T, , S] = shape as [number, number, number, number];
  if (shape.length !== 4 || shape[2] !== shape[3] || T !== layout.tiles || S !== layout.size) {
    throw new Error(`featureMap: pixel_values [${shape.join(', ')}] do not match the preprocessing (${layout.tiles} tiles of ${layout.size}×${layout.size})`);
  }
  const blocks = layout.grid.rows * layout.grid.cols;
  const thumbnail = T > blocks;
  const { hp, wp } = tokenGrid(config, S, S);
  const hidden = layer === config.numLayers ? [] : [layer];
  const fit = maxBatch(model, S, S, { hiddenStates: hidden, want: T });
  if (fit.batch < T) {
    throw new Error(`featureMap: the ${T} tiles of this image need one pass to be stitched, and this device takes at most ${fit.batch} ` +
      `(one more breaks ${fit.limitedBy}): lower maxTiles, or use preprocess 'clip' / 'none'`);
  }
  assertRunnable(model);
  // Both plans are leased for the run, so the plan cache cannot evict (free) them meanwhile.
  const encLease = await leaseForwardPlan(model, shape, { hiddenStates: hidden });
  let outs: Awaited<ReturnType<typeof runPlans>>[number];
  let lay: CompiledPlan;
  let owned: Map<string, GpuOutput> | null = null;
  // A stitched map is one (D, H', W'): the layout kernel's leading map axis is dropped.
  const mapShape = (name: string): number[] => lay.plan.outputs.get(name)!.shape.slice(stitch ? 1 : 0);
  try {
    const enc = encLease.value;
    const tokens = outputTensor(enc, hidden.length ? `hidden_states.${layer}` : 'last_hidden_state');
    const layLease = await leaseLayoutPlan(model, tokens.shape, layout.grid, thumbnail, stitch, [hp, wp]);
    try {
      lay = layLease.value;
      const names = [...lay.plan.outputs.keys()];
      // Caller-owned maps: made for this call only, filled by copies at the end of the one submit.
      owned = opts.output === 'gpu' ? createGpuOutputs(model.gpu, names.map((name) => ({ name, shape: mapShape(name) }))) : null;
      const copyOut = owned && [...owned].map(([name, o]) => {
        const ref = lay.plan.outputs.get(name)!;
        if (ref.dtype !== 'f32' || ref.byteLength !== o.byteLength) throw new Error(`internal: output '${name}' of the plan does not match its caller-owned buffer`);
        return { name, buffer: o.buffer, offset: 0 };
      });
      outs = (await runPlans([
        ...(opts.before ?? []),
        { compiled: enc, inputs: { pixel_values: pixels }, read: [] },
        { compiled: lay, inputs: { tokens }, read: copyOut ? [] : names, copyOut: copyOut ?? undefined },
      ])).at(-1)!;
    } finally {
      layLease.release();
    }
  } catch (e) {
    for (const o of owned?.values() ?? []) o.buffer.destroy();
    throw e;
  } finally {
    encLease.release();
  }
  const host = (name: string): HostOutput => ({ data: (outs[name] as Float32Array | undefined) ?? new Float32Array(0), shape: mapShape(name) });
  const gpuMaps = owned && { features: owned.get('features')!, thumbnailFeatures: owned.get('thumbnail') };
  return {
    features: host('features'),
    thumbnailFeatures: stitch && thumbnail ? host('thumbnail') : undefined,
    ...(gpuMaps ? { buffers: gpuMaps } : {}),
    layer, tiles: { count: T, grid: { ...layout.grid } }, thumbnail, stitched: stitch, mode: layout.mode,
    tileSize: S, patchSize: config.patchSize, patchGrid: [hp, wp],
    image: { width: layout.width, height: layout.height }, region: mapRegion(layout),
  };
}
