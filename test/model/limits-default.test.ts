// The whole model under WebGPU's default limits (what the most constrained browsers offer): every
// kernel compiles within 16 KiB of workgroup storage and 256 invocations, and the outputs match the
// float64 PyTorch reference of the bundled model, with the usual tolerance.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { InternViT } from '../../src/api.js';
import { LimitError } from '../../src/runtime/limits.js';
import { readSafetensorsFloat32 } from '../../src/runtime/safetensors.js';
import { compare, formatResult } from '../../src/kernels/check-harness.js';

const MODEL = 'models/internvit-tiny';

describe("InternViT under limits: 'default'", () => {
  it('loads on a default-limits device (load option) and matches the PyTorch reference', async () => {
    const model = await InternViT.load(MODEL, { limits: 'default' });
    try {
      console.log(model.describe());
      expect(model.gpu.limitsMode).toBe('default');
      expect(model.gpu.limits.maxStorageBufferBindingSize).toBe(128 * 2 ** 20);
      expect(model.gpu.limits.maxComputeWorkgroupStorageSize).toBe(16384);
      expect(model.describe()).toMatch(/limits: default \(bindings 128 MiB, buffers 256 MiB\)/);
      const pixels = readSafetensorsFloat32(await readFile(`${MODEL}/pixels.safetensors`), `${MODEL}/pixels.safetensors`).get('pixel_values')!;
      const expected = readSafetensorsFloat32(await readFile(`${MODEL}/expected.safetensors`), `${MODEL}/expected.safetensors`);
      const out = await model.embedPixels(pixels.data, pixels.shape);
      for (const [name, got] of [['last_hidden_state', out.lastHiddenState], ['pooler_output', out.poolerOutput]] as const) {
        const want = expected.get(name)!;
        expect(got.shape).toEqual(want.shape);
        const r = compare(`default limits ${name}`, got.data, want.data);
        console.log(formatResult(r));
        expect(r.ok, formatResult(r)).toBe(true);
      }
      // An input too wide for 128 MiB bindings: a LimitError at compile that names the op, the binding,
      // the bytes and the limit, before anything is allocated (the host array is never read).
      const before = model.gpu.counters.buffersCreated;
      const wide = model.embedPixels(new Float32Array(1), [1, 3, 224, 57400]);
      const err = await wide.catch((e: unknown) => e);
      console.log((err as Error).message);
      expect(err).toBeInstanceOf(LimitError);
      await expect(model.embedPixels(new Float32Array(1), [1, 3, 224, 57400])).rejects.toThrow(
        /^internvit 1×3×224×57400: op '[^']+', binding 'pixels' needs 154291200 bytes, over this device's maxStorageBufferBindingSize of 134217728 \(\+\d+ more\)/);
      expect(model.gpu.counters.buffersCreated).toBe(before);
    } finally {
      model.dispose();
    }
  }, 600_000); // a fresh device compiles every pipeline: ~15 s idle, minutes on a loaded 2-core machine

  it('refuses a limits option that contradicts the device it is given', async () => {
    const model = InternViT.load(MODEL, { limits: 'default', gpu: { limitsMode: 'adapter' } as never });
    await expect(model).rejects.toThrow("InternViT.load: limits 'default' was asked for, but the given gpu was opened with limits 'adapter'");
  });
});
