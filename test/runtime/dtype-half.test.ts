// Host-side conversions for 16-bit weight storage (bf16 / f16 packed pairs on the GPU).
import { describe, expect, it } from 'vitest';
import { encodeValues, halfBitsToF32, toFloat32, toHalf, toHalfBits } from '../../src/runtime/dtype.js';

const values = [0, -0, 1, -2.5, 0.1, 3.14159, 1e-3, -7e-6, 65504, 300.7];

describe('16-bit weight storage conversions', () => {
  it('BF16 bytes stay their bits (lossless), and decode to the values toFloat32 gives', () => {
    const bytes = encodeValues(values, 'BF16');
    const bits = toHalf(bytes, 'BF16', 'bf16');
    expect([...bits]).toEqual([...new Uint16Array(bytes.buffer)]);
    expect([...halfBitsToF32(bits, 'bf16')]).toEqual([...toFloat32(bytes, 'BF16')]);
  });
  it('F16 bytes stay their bits for f16 storage', () => {
    const bytes = encodeValues(values, 'F16');
    const bits = toHalf(bytes, 'F16', 'f16');
    expect([...bits]).toEqual([...new Uint16Array(bytes.buffer)]);
    expect([...halfBitsToF32(bits, 'f16')]).toEqual([...toFloat32(bytes, 'F16')]);
  });
  it('unaligned source bytes are copied, not misread', () => {
    const raw = encodeValues(values, 'BF16');
    const shifted = new Uint8Array(raw.byteLength + 1);
    shifted.set(raw, 1);
    expect([...toHalf(shifted.subarray(1), 'BF16', 'bf16')]).toEqual([...new Uint16Array(raw.buffer)]);
  });
  it('F32 → bf16 and f16 round to nearest even, like the safetensors encoder', () => {
    const f32 = encodeValues(values, 'F32');
    expect([...toHalf(f32, 'F32', 'bf16')]).toEqual([...new Uint16Array(encodeValues(values, 'BF16').buffer)]);
    expect([...toHalf(f32, 'F32', 'f16')]).toEqual([...new Uint16Array(encodeValues(values, 'F16').buffer)]);
  });
  it('BF16 → f16 is exact for values in f16 normal range', () => {
    // (65504 is not here: as bf16 it is 65536, which f16 cannot hold; see the next case.)
    const bytes = encodeValues(values.filter((v) => v !== 65504), 'BF16');
    const want = toFloat32(bytes, 'BF16');
    const got = halfBitsToF32(toHalf(bytes, 'BF16', 'f16'), 'f16');
    for (let i = 0; i < want.length; i++) {
      if (Math.abs(want[i]!) >= 6.1e-5 || want[i] === 0) expect(got[i]).toBe(want[i]);
    }
  });
  it('a value too large for f16 is an error naming the tensor and element', () => {
    const bytes = encodeValues([1, 70000], 'BF16');
    expect(() => toHalf(bytes, 'BF16', 'f16', "model.safetensors: tensor 'fc1.weight'")).toThrow(
      /model\.safetensors: tensor 'fc1\.weight': value 70144 at element 1 does not fit f16 \(largest 65504\); keep this tensor in bf16 or f32/);
    // 65519 still rounds to 65504: representable, no error.
    expect(halfBitsToF32(toHalfBits([65519], 'f16'), 'f16')[0]).toBe(65504);
    // Infinity and NaN are passed through (they were already in the checkpoint).
    expect(halfBitsToF32(toHalfBits([Infinity], 'f16'), 'f16')[0]).toBe(Infinity);
  });
});
