// The worker host refuses output 'gpu' with a clear error (GPU buffers cannot be posted to the page),
// before touching any model: no GPU needed.
import { describe, expect, it } from 'vitest';
import { serveModel } from '../../src/worker/host.js';

describe("worker host: output 'gpu'", () => {
  it('is refused with an error saying why, for embed, embedPixels, imageTokens and featureMap', async () => {
    const replies: unknown[] = [];
    let listener: ((e: MessageEvent) => void) | null = null;
    serveModel({
      postMessage: (m: unknown) => replies.push(m),
      addEventListener: (_t, l) => { listener = l; },
      removeEventListener: () => undefined,
    });
    const calls: [string, unknown[]][] = [['embed', [{}, { output: 'gpu' }]], ['embedPixels', [new Float32Array(3), [1, 3, 1, 1], { output: 'gpu' }]], ['imageTokens', [{}, { output: 'gpu' }]], ['featureMap', [{}, { output: 'gpu' }]]];
    calls.forEach(([op, args], i) => listener!({ data: { id: i + 1, op, args } } as MessageEvent));
    await new Promise((r) => setTimeout(r, 20));
    expect(replies).toHaveLength(calls.length);
    for (const [i, [op]] of calls.entries()) {
      expect(replies[i]).toMatchObject({ id: i + 1, kind: 'error', error: { message: `${op}: output 'gpu' cannot be used through a worker (GPU buffers cannot leave it); load the model on the page for GPU outputs` } });
    }
  });
});
