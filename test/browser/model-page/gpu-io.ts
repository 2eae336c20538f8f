// Browser side of the GPU-in/out test (?gpuio=model/NAME): the app makes its own GPUDevice; the model
// runs on it (fixture parity, dispose() leaves it usable), takes pixel_values from the app's GPUBuffer
// and returns caller-owned GPU buffers (checks shared with Node: test/model/gpu-io-core.ts); and
// canvas, OffscreenCanvas, ImageBitmap and VideoFrame inputs go through copyExternalImageToTexture
// (no getImageData) to the same embedding, bit for bit, as the same pixels given as host bytes.
// Publishes window.__internvitGpuIo, read by test/browser/gpu-io.browser.test.ts.
import { describeGpu, gpuFromDevice } from '../../../src/runtime/device.js';
import { InternViT, type DecodedImage, type EmbedResult } from '../../../src/index.js';
import { randomImage } from '../../../src/kernels/resize.check.js';
import { addRow, cell, runPage, type PageReport } from '../page-shell.js';
import { checkByoDevice, checkGpuInOut } from '../../model/gpu-io-core.js';
import type { FixtureSource } from '../../model/parity-core.js';
import { withLimits } from '../../model/lowered-limits.js';
import { leasePreprocessPlan, preprocess } from '../../../src/model/preprocess.js';

export interface GpuIoReport extends PageReport {
  problems: string[];
  lines: string[];
  /** External kinds that ran and matched the host path bit for bit. */
  external: string[];
}

declare global {
  interface Window { __internvitGpuIo: GpuIoReport }
}

const OPTS = { preprocess: 'internvl', maxTiles: 4 } as const;
const bits = (r: EmbedResult) => [r.lastHiddenState, r.poolerOutput]
  .flatMap((o) => Array.from(new Uint32Array(o.data.buffer, o.data.byteOffset, o.data.length))).join();

/** Counts getImageData calls: the external path must not read pixels back to the CPU. */
function countReadbacks(): { count: () => number; restore: () => void } {
  let n = 0;
  const protos = [CanvasRenderingContext2D.prototype, OffscreenCanvasRenderingContext2D.prototype];
  const saved = protos.map((p) => p.getImageData);
  protos.forEach((p, i) => {
    p.getImageData = function (this: CanvasRenderingContext2D, ...args: Parameters<CanvasRenderingContext2D['getImageData']>) {
      n++;
      return saved[i]!.apply(this, args);
    } as typeof p.getImageData;
  });
  return { count: () => n, restore: () => protos.forEach((p, i) => { p.getImageData = saved[i]!; }) };
}

export function startGpuIoPage(src: FixtureSource): void {
  const report: GpuIoReport = { done: false, problems: [], lines: [], external: [] };
  window.__internvitGpuIo = report;
  const note = (ok: boolean, what: string, detail: string) => addRow(cell(ok ? 'ok' : 'FAIL', ok ? 'ok' : 'fail'), cell(what), cell(detail));
  runPage(report, async () => {
    // An adapter makes one device; the app asks twice for the second (foreign-buffer) device.
    const appDevice = async (label: string) => {
      const adapter = await navigator.gpu.requestAdapter();
      if (!adapter) throw new Error('no adapter');
      return adapter.requestDevice({ label });
    };
    const device = await appDevice('app device');
    const other = await appDevice('another app device');
    report.adapter = describeGpu(gpuFromDevice(device));
    document.getElementById('adapter')!.textContent = report.adapter;
    try {
      for (const [what, run] of [['BYO device', () => checkByoDevice(device, src)], ['GPU in/out', () => checkGpuInOut(device, src, other)]] as const) {
        const r = await run();
        report.lines.push(...r.lines);
        report.problems.push(...r.problems);
        note(r.problems.length === 0, what, [...r.problems, ...r.lines].join('; '));
      }

      // External images: opaque pixels (a canvas stores premultiplied alpha), drawn on a canvas.
      const w = 150;
      const h = 40;
      const rgba = randomImage(w, h, 11);
      for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
      const canvas = document.createElement('canvas');
      canvas.width = w;
      canvas.height = h;
      const ctx = canvas.getContext('2d')!;
      ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba), w, h), 0, 0);
      const stored = ctx.getImageData(0, 0, w, h).data;
      if (!stored.every((v, i) => v === rgba[i])) report.problems.push('the canvas did not keep the opaque pixels exactly (test setup)');
      const host: DecodedImage = { data: new Uint8Array(stored.buffer), width: w, height: h, name: 'host bytes' };
      const offscreen = new OffscreenCanvas(w, h);
      offscreen.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(rgba), w, h), 0, 0);

      const model = await InternViT.load(src.checkpoint, { device });
      try {
        const want = await model.embed(host, OPTS);
        report.lines.push(`host bytes ${w}×${h}: ${want.tiles.count} tiles`);
        const sources: [string, () => Promise<CanvasImageSource | VideoFrame | OffscreenCanvas>, (x: unknown) => void][] = [
          ['HTMLCanvasElement', async () => canvas, () => undefined],
          ['OffscreenCanvas', async () => offscreen, () => undefined],
          ['ImageBitmap', () => createImageBitmap(canvas), (x) => (x as ImageBitmap).close()],
          ['VideoFrame', async () => new VideoFrame(canvas, { timestamp: 0 }), (x) => (x as VideoFrame).close()],
        ];
        for (const [kind, make, close] of sources) {
          const source = await make();
          const spy = countReadbacks();
          try {
            const g = model.gpu;
            const first = await model.embed(source as ImageBitmap, OPTS);
            const before = { ...g.counters };
            const second = await model.embed(source as ImageBitmap, OPTS);
            const problems: string[] = [];
            if (spy.count() !== 0) problems.push(`${kind}: read back to the CPU (${spy.count()} getImageData calls)`);
            if (bits(first) !== bits(want)) problems.push(`${kind}: embedding differs from the host bytes' embedding`);
            if (bits(second) !== bits(want)) problems.push(`${kind}: the second frame differs`);
            const made = g.counters.buffersCreated - before.buffersCreated + g.counters.pipelinesCreated - before.pipelinesCreated;
            if (made !== 0 || g.counters.submits - before.submits !== 1) problems.push(`${kind}: the second frame made ${made} buffers/pipelines and ${g.counters.submits - before.submits} submits (want 0 and 1)`);
            report.problems.push(...problems);
            if (!problems.length) report.external.push(kind);
            note(problems.length === 0, kind, problems.join('; ') || 'same bits as host bytes; second frame: 1 submit, nothing created, no CPU readback');
          } finally {
            spy.restore();
            close(source);
          }
        }
        // featureMap shares the path: the stitched map of an ImageBitmap equals the host bytes' map.
        const mapBits = (r: { features: { data: Float32Array } }) => Array.from(new Uint32Array(r.features.data.buffer, r.features.data.byteOffset, r.features.data.length)).join();
        const bitmap = await createImageBitmap(canvas);
        const mapExt = await model.featureMap(bitmap, OPTS);
        bitmap.close();
        const mapHost = await model.featureMap(host, OPTS);
        if (mapBits(mapExt) !== mapBits(mapHost)) report.problems.push('featureMap of an ImageBitmap differs from the host bytes\' map');
        else report.lines.push(`featureMap [${mapHost.features.shape.join(', ')}] of an ImageBitmap equals the host bytes' map bit for bit`);
        const direct = model.gpu.cache.get('preprocess:direct-video-copy');
        report.lines.push(`VideoFrame: ${direct ? 'copied straight into the texture' : 'this browser cannot copy video into a texture directly: went through createImageBitmap'}`);
        // An image over the (lowered) binding limit: the texture is copied into row bands of the
        // padded stride (3 bands of 16 rows at 192 px); the same bytes as the host path.
        const lowered = withLimits(model.gpu, { maxStorageBufferBindingSize: 192 * 4 * 16 });
        const small = { mode: 'none', size: 28 } as const;
        const lease = await leasePreprocessPlan(lowered, w, h, small, undefined, 'texture');
        const bands = lease.value.compiled.plan.inputs.size;
        lease.release();
        const viaTexture = await preprocess(lowered, canvas, { ...small, output: 'host' });
        const viaHost = await preprocess(lowered, host, { ...small, output: 'host' });
        const same = viaTexture.pixelValues.every((v, i) => Object.is(v, viaHost.pixelValues[i]));
        if (bands !== 3 || !same) report.problems.push(`banded texture copy: ${bands} bands (want 3), ${same ? 'same' : 'different'} pixel_values than the host path`);
        else report.lines.push(`banded texture copy (${bands} bands): pixel_values equal the host path's`);
        // A closed VideoFrame is a clear error, not zeros.
        const closed = new VideoFrame(canvas, { timestamp: 1 });
        closed.close();
        const err = await model.embed(closed, OPTS).then(() => null, (e: Error) => e.message);
        if (!err || !/closed/.test(err)) report.problems.push(`closed VideoFrame: ${err ?? 'no error'}`);
        else report.lines.push(`closed VideoFrame: ${err}`);
      } finally {
        model.dispose();
      }
    } finally {
      device.destroy();
      other.destroy();
    }
  }, () => `${report.problems.length} problems`);
}
