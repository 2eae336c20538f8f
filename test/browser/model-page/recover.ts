// Browser side of the device-loss test (?recover=model/NAME): the device is destroyed right after a
// run's submit; that run and the next call must reject with DeviceLostError (the next one naming
// recover()), and after model.recover() the outputs must equal those from before, bit for bit.
// Publishes window.__internvitRecover, read by test/browser/model-parity.browser.test.ts.
import { describeGpu, InternViT, type DecodedImage, type EmbedResult } from '../../../src/internal.js';
import { randomImage } from '../../../src/kernels/resize.check.js';
import { addRow, cell, runPage, type PageReport } from '../page-shell.js';

export interface RecoverReport extends PageReport {
  /** The run in flight at the loss: 'resolved', 'hung' or the error as "Name: message". */
  inFlight?: string;
  /** The next call after the loss. */
  later?: string;
  /** Outputs after recover() equal those before the loss. */
  identical?: boolean;
}

declare global {
  interface Window { __internvitRecover: RecoverReport }
}

const OPTS = { preprocess: 'none', size: 28, hiddenStates: [1] } as const;
const text = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
const bits = (r: EmbedResult) => [r.lastHiddenState, r.poolerOutput, ...(r.hiddenStates ?? [])]
  .flatMap((o) => Array.from(new Uint32Array(o.data.buffer, o.data.byteOffset, o.data.length)));

export function startRecoverPage(checkpoint: string): void {
  const report: RecoverReport = { done: false };
  window.__internvitRecover = report;
  runPage(report, async () => {
    const model = await InternViT.load(checkpoint);
    report.adapter = describeGpu(model.gpu);
    document.getElementById('adapter')!.textContent = report.adapter;
    try {
      const img: DecodedImage = { data: randomImage(37, 29, 5), width: 37, height: 29, name: 'noise 37×29' };
      const want = await model.embed(img, OPTS);
      const { device } = model.gpu;
      const submit = device.queue.submit.bind(device.queue);
      device.queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
        submit(buffers);
        device.destroy();
      };
      report.inFlight = await Promise.race([
        model.embed(img, OPTS).then(() => 'resolved', text),
        new Promise<string>((r) => setTimeout(() => r('hung'), 20_000)),
      ]);
      report.later = await model.embed(img, OPTS).then(() => 'resolved', text);
      await model.recover();
      report.identical = bits(await model.embed(img, OPTS)).join() === bits(want).join();
    } finally {
      model.dispose();
    }
    for (const [k, v] of Object.entries({ 'in flight': report.inFlight, 'next call': report.later, 'identical after recover()': report.identical })) {
      addRow(cell(k), cell(String(v)));
    }
  }, () => (report.identical ? 'recovered' : 'not recovered'));
}
