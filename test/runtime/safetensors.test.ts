// safetensors reader/writer and the float conversions: byte layout, every malformed-file error
// (naming file and tensor), header-first reading, and exact F32/F16/BF16 values incl. specials.
import { describe, expect, it } from 'vitest';
import {
  bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, toFloat32,
} from '../../src/runtime/dtype.js';
import {
  memorySource, openSafetensors, parseSafetensors, readSafetensorsFloat32, readSafetensorsHeader,
  writeSafetensors, type ByteSource,
} from '../../src/runtime/safetensors.js';

const FILE = 'weights/model.safetensors';

/** A file built by hand from a header object and data bytes (independent of the writer). */
function craft(header: unknown, data: Uint8Array | number = 0, headerLength?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const bytes = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.byteLength + bytes.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.byteLength), true);
  out.set(json, 8);
  out.set(bytes, 8 + json.byteLength);
  return out;
}

const parse = (bytes: Uint8Array) => parseSafetensors(bytes, FILE);

describe('writer', () => {
  it('lays out length, padded JSON header and contiguous data as the format says', () => {
    const bytes = writeSafetensors({
      a: { dtype: 'F32', shape: [2], data: [1.5, -2] },
      b: { dtype: 'BF16', shape: [1, 1], data: new Uint16Array([0x3f80]) },
      c: { dtype: 'I64', shape: [1], data: [-3] },
    }, { format: 'pt' });
    const view = new DataView(bytes.buffer);
    const n = Number(view.getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header).toEqual({
      __metadata__: { format: 'pt' },
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'BF16', shape: [1, 1], data_offsets: [8, 10] },
      c: { dtype: 'I64', shape: [1], data_offsets: [10, 18] },
    });
    const d = 8 + n;
    expect(bytes.byteLength).toBe(d + 18);
    expect(view.getFloat32(d, true)).toBe(1.5);
    expect(view.getFloat32(d + 4, true)).toBe(-2);
    expect(view.getUint16(d + 8, true)).toBe(0x3f80);
    expect(view.getBigInt64(d + 10, true)).toBe(-3n);
  });

  it('rejects data that does not fit the shape, naming the tensor', () => {
    expect(() => writeSafetensors({ w: { dtype: 'F32', shape: [3], data: [1, 2] } })).toThrow(/tensor 'w'.*8 bytes.*needs 12/);
  });
});

describe('reader', () => {
  it('parses a hand-made file: dtypes, shapes, absolute offsets, metadata', () => {
    const data = new Uint8Array(14);
    new DataView(data.buffer).setFloat32(0, 3.25, true);
    new DataView(data.buffer).setUint16(4, 0x3c00, true); // f16 1.0
    const bytes = craft({
      // Listed out of offset order on purpose: allowed.
      z: { dtype: 'U8', shape: [8], data_offsets: [6, 14] },
      x: { dtype: 'F32', shape: [], data_offsets: [0, 4] },
      y: { dtype: 'F16', shape: [1], data_offsets: [4, 6] },
      __metadata__: { note: 'hi' },
    }, data);
    const { header, tensors } = parse(bytes);
    expect([...header.tensors.keys()]).toEqual(['z', 'x', 'y']);
    expect(header.metadata).toEqual({ note: 'hi' });
    expect(header.tensors.get('y')).toMatchObject({ dtype: 'F16', shape: [1], offset: bytes.byteLength - 14 + 4, byteLength: 2, file: FILE });
    expect(toFloat32(tensors.get('x')!.bytes, 'F32')[0]).toBe(3.25);
    expect(toFloat32(tensors.get('y')!.bytes, 'F16')[0]).toBe(1);
  });

  it('round-trips the writer, incl. empty and scalar tensors', () => {
    const f = readSafetensorsFloat32(writeSafetensors({
      s: { dtype: 'F32', shape: [], data: [7] },
      e: { dtype: 'F16', shape: [0, 4], data: [] },
      m: { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
    }));
    expect(f.get('s')).toEqual({ shape: [], data: new Float32Array([7]) });
    expect(f.get('e')).toEqual({ shape: [0, 4], data: new Float32Array(0) });
    expect([...f.get('m')!.data]).toEqual([1, 2, 3, 4]);
  });

  it('reads the header first and then only the byte range of the tensor asked for', async () => {
    const bytes = writeSafetensors({
      a: { dtype: 'F32', shape: [1000], data: new Float32Array(1000).fill(1) },
      b: { dtype: 'F32', shape: [3], data: [4, 5, 6] },
    });
    const reads: [number, number][] = [];
    const inner = memorySource(bytes, FILE);
    const source: ByteSource = { name: FILE, size: inner.size, read: (o, l) => { reads.push([o, l]); return inner.read(o, l); } };
    const file = await openSafetensors(source);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(reads).toEqual([[0, 8], [8, n]]);
    expect([...await file.readFloat32('b')]).toEqual([4, 5, 6]);
    expect(reads[2]).toEqual([8 + n + 4000, 12]);
    await expect(file.read('nope')).rejects.toThrow(`${FILE}: tensor 'nope': no such tensor`);
  });
});

describe('malformed files: errors name the file and the tensor', () => {
  const good = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['shorter than 8 bytes', () => new Uint8Array(5), /too short for the 8-byte header length/],
    ['header length beyond the file', () => craft(good, 8, 5000), /header length 5000 runs past the end of the \d+-byte file/],
    ['absurd header length', () => craft(good, 8, 2 ** 40), /header length 1099511627776 is absurd/],
    ['malformed JSON', () => craft('{"w": {"dtype": "F32",', 8), /header is not valid JSON/],
    ['header not an object', () => craft('[1, 2, 3]', 0), /header JSON is not an object/],
    ['entry not an object', () => craft({ w: 5 }, 0), /tensor 'w': header entry is not an object/],
    ['unknown dtype', () => craft({ w: { dtype: 'F12', shape: [2], data_offsets: [0, 4] } }, 4), /tensor 'w': unknown dtype "F12"/],
    ['bad shape', () => craft({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, 8), /tensor 'w': shape \[2,-1\] is not a list of non-negative integers/],
    ['bad offsets', () => craft({ w: { dtype: 'F32', shape: [2], data_offsets: [0] } }, 8), /tensor 'w': data_offsets \[0\] is not a pair/],
    ['shape/offset mismatch', () => craft({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /tensor 'w': data_offsets \[0, 8\] hold 8 bytes but shape \[3\] F32 needs 12/],
    ['reversed offsets', () => craft({ w: { dtype: 'U8', shape: [0], data_offsets: [8, 0] } }, 8), /tensor 'w': data_offsets \[8, 0\] are reversed/],
    ['offsets out of range', () => craft({ w: { dtype: 'F32', shape: [2], data_offsets: [100, 108] } }, 8), /tensor 'w': data_offsets \[100, 108\] run past the end of the data section \(8 bytes\)/],
    ['overlapping tensors', () => craft({
      a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
      b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
    }, 16), /tensor 'b': data_offsets \[8, 16\] overlap tensor 'a' \[0, 16\]/],
    ['overlap hidden behind an empty tensor', () => craft({
      a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
      e: { dtype: 'F32', shape: [0], data_offsets: [4, 4] },
      b: { dtype: 'F32', shape: [1], data_offsets: [12, 16] },
    }, 16), /tensor 'b'.*overlap tensor 'a'/],
    ['metadata not strings', () => craft({ __metadata__: { n: 1 }, ...good }, 8), /__metadata__ value for 'n' is not a string/],
    ['truncated file', () => writeSafetensors({
      first: { dtype: 'F32', shape: [4], data: [1, 2, 3, 4] },
      last: { dtype: 'F32', shape: [4], data: [1, 2, 3, 4] },
    }).subarray(0, -3), /tensor 'last': data_offsets \[16, 32\] run past the end of the data section \(29 bytes\): file truncated/],
  ];
  for (const [what, make, message] of cases) {
    it(what, async () => {
      const bytes = make();
      let err: Error | undefined;
      try {
        parse(bytes);
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).toMatch(message);
      expect(err?.message.startsWith(`${FILE}: `)).toBe(true);
      // The header-first path reports the same.
      await expect(readSafetensorsHeader(memorySource(bytes, FILE))).rejects.toThrow(message);
    });
  }

  it('refuses to convert a non-float tensor, naming it', async () => {
    const file = await openSafetensors(memorySource(writeSafetensors({ ids: { dtype: 'I64', shape: [2], data: [1, 2] } }), FILE));
    await expect(file.readFloat32('ids')).rejects.toThrow(`${FILE}: tensor 'ids': dtype I64 is not supported`);
  });
});

// Reference values from the IEEE 754 definitions, written out by hand.
const F16_CASES: [number, number][] = [
  [0x0000, 0], [0x8000, -0], [0x3c00, 1], [0xc000, -2], [0x3555, 0.333251953125],
  [0x7bff, 65504], [0x0400, 2 ** -14], [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24], [0x8001, -(2 ** -24)],
  [0x7c00, Infinity], [0xfc00, -Infinity],
];
const BF16_CASES: [number, number][] = [
  [0x0000, 0], [0x8000, -0], [0x3f80, 1], [0xc040, -3], [0x4049, 3.140625], [0x7f7f, 3.3895313892515355e38],
  [0x0080, 2 ** -126], [0x0001, 2 ** -133], [0x7f80, Infinity], [0xff80, -Infinity],
];

describe('dtype conversion', () => {
  it('f16 → f32 for known bit patterns (zeros, normals, subnormals, max, inf, nan)', () => {
    for (const [bits, want] of F16_CASES) expect(Object.is(f16BitsToF32(bits), want), `0x${bits.toString(16)}`).toBe(true);
    expect(f16BitsToF32(0x7e00)).toBeNaN();
    expect(f16BitsToF32(0xfd01)).toBeNaN();
  });

  it('f16 → f32 for all 65536 patterns matches the formula (−1)^s·2^(e−15)·(1+m/1024) / 2^−14·m/1024', () => {
    let checked = 0;
    for (let h = 0; h < 65536; h++) {
      const s = h & 0x8000 ? -1 : 1;
      const e = (h >> 10) & 31;
      const m = h & 1023;
      const want = e === 31 ? (m ? NaN : s * Infinity) : e === 0 ? s * 2 ** -14 * (m / 1024) : s * 2 ** (e - 15) * (1 + m / 1024);
      const got = f16BitsToF32(h);
      if (!(Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want)))) throw new Error(`0x${h.toString(16)}: ${got} vs ${want}`);
      checked++;
    }
    expect(checked).toBe(65536);
  });

  it('bf16 → f32 puts the bits in the high half', () => {
    for (const [bits, want] of BF16_CASES) expect(Object.is(bf16BitsToF32(bits), want), `0x${bits.toString(16)}`).toBe(true);
    expect(bf16BitsToF32(0x7fc0)).toBeNaN();
  });

  it('f32 → f16 rounds to nearest even, with subnormals, overflow and nan', () => {
    for (const [bits, value] of F16_CASES) expect(f32ToF16Bits(value)).toBe(bits);
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even (down)
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds past the max: inf
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal → 0
    expect(f32ToF16Bits(3 * 2 ** -26)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // tie rounds up into the smallest normal
    expect(f32ToF16Bits(1e-10)).toBe(0x0000);
    expect(f32ToF16Bits(-1e-10)).toBe(0x8000);
    expect(f32ToF16Bits(NaN) & 0x7e00).toBe(0x7e00);
  });

  it('f32 → bf16 rounds to nearest even; nan stays nan', () => {
    for (const [bits, value] of BF16_CASES) expect(f32ToBf16Bits(value)).toBe(bits);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(f32ToBf16Bits(3.4e38)).toBe(0x7f80); // rounds to inf
    expect(bf16BitsToF32(f32ToBf16Bits(NaN))).toBeNaN();
  });

  it('F32/F16/BF16 files round-trip special values exactly, also from unaligned bytes', () => {
    const f32 = new Float32Array([0, -0, 1.5, -3.25e-40 /* f32 subnormal */, 3.4028234663852886e38, Infinity, -Infinity, NaN]);
    const file = writeSafetensors({
      a: { dtype: 'F32', shape: [8], data: f32 },
      h: { dtype: 'F16', shape: [F16_CASES.length + 1], data: new Uint16Array([...F16_CASES.map(([b]) => b), 0x7e00]) },
      b: { dtype: 'BF16', shape: [BF16_CASES.length + 1], data: new Uint16Array([...BF16_CASES.map(([b]) => b), 0x7fc0]) },
    });
    const got = readSafetensorsFloat32(file);
    const same = (x: Float32Array, want: number[]) => {
      expect(x.length).toBe(want.length);
      want.forEach((w, i) => expect(Object.is(x[i], w) || (Number.isNaN(x[i]) && Number.isNaN(w)), `[${i}] ${x[i]} vs ${w}`).toBe(true));
    };
    same(got.get('a')!.data, [...f32]);
    same(got.get('h')!.data, [...F16_CASES.map(([, v]) => v), NaN]);
    same(got.get('b')!.data, [...BF16_CASES.map(([, v]) => v), NaN]);
    // Odd byte offsets: the converter must not build misaligned typed-array views.
    const odd = new Uint8Array(1 + 4);
    odd.set([0x00, 0x3c, 0x00, 0xc0], 1); // f16 1, -2 at byte offset 1
    expect([...toFloat32(odd.subarray(1), 'F16')]).toEqual([1, -2]);
    const bf = new Uint8Array([0, 0, 0x80, 0x3f, 0x40, 0xc0, 0x80, 0x7f, 0, 0]); // bf16 1, -3, inf at offsets 2, 4, 6
    expect([...toFloat32(bf.subarray(2, 8), 'BF16')]).toEqual([1, -3, Infinity]); // 2-aligned, not 4-aligned
    expect([...toFloat32(bf.subarray(0, 8), 'BF16')]).toEqual([0, 1, -3, Infinity]); // 4-aligned pairs
    expect([...toFloat32(new Uint8Array([9, ...bf.subarray(2, 6)]).subarray(1), 'BF16')]).toEqual([1, -3]); // odd offset
    const oddF32 = new Uint8Array(1 + 4);
    new DataView(oddF32.buffer).setFloat32(1, 2.5, true);
    expect([...toFloat32(oddF32.subarray(1), 'F32')]).toEqual([2.5]);
  });
});
