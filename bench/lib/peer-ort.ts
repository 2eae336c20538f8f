// The peer: ONNX Runtime's WebGPU execution provider, through whichever ort the runner imported
// (onnxruntime-web/webgpu in the page, onnxruntime-node in Node). Same API on both sides.
import type * as Ort from 'onnxruntime-common';
import type { Peer, PeerSession } from './model.js';
import type { Runtime } from './types.js';

type OrtModule = Pick<typeof Ort, 'InferenceSession' | 'Tensor' | 'env'>;

export function ortWebGpuPeer(ort: OrtModule, runtime: Runtime, extra: { adapter?: () => string | undefined; note?: string } = {}): Peer {
  return {
    runtime,
    note: extra.note,
    adapter: extra.adapter,
    async create(onnx: Uint8Array): Promise<PeerSession> {
      const session = await ort.InferenceSession.create(onnx, {
        executionProviders: ['webgpu'],
        graphOptimizationLevel: 'all',
        // Errors only: ORT warns that it keeps shape-computing nodes on the CPU, which is its design.
        logSeverityLevel: 3,
      });
      if (!session.outputNames.includes('last_hidden_state')) {
        await session.release();
        throw new Error(`the ONNX model has no output 'last_hidden_state' (outputs: ${session.outputNames.join(', ')})`);
      }
      return {
        async run(pixels, shape) {
          const out = await session.run({ pixel_values: new ort.Tensor('float32', pixels, shape) });
          const t = out.last_hidden_state!;
          const data = t.data as Float32Array;
          for (const v of Object.values(out)) if (v !== t) v.dispose();
          return data;
        },
        release: () => session.release(),
      };
    },
  };
}
