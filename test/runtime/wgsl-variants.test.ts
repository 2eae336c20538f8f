import { describe, expect, it } from 'vitest';
import { selectVariant } from '../../src/runtime/wgsl-variants.js';

const src = [
  'a',
  '//#if VEC4',
  'vec4',
  '//#if W_PACKED',
  'vec4 packed',
  '//#else',
  'vec4 f32',
  '//#endif',
  '//#elif !W_PACKED',
  'scalar f32',
  '//#else',
  'scalar packed',
  '//#endif',
  'z',
].join('\n');

describe('selectVariant (//#if blocks in WGSL)', () => {
  it('keeps exactly the lines of the taken branches, nested', () => {
    expect(selectVariant(src, { VEC4: true, W_PACKED: true })).toBe('a\nvec4\nvec4 packed\nz');
    expect(selectVariant(src, { VEC4: true, W_PACKED: false })).toBe('a\nvec4\nvec4 f32\nz');
    expect(selectVariant(src, { VEC4: false, W_PACKED: false })).toBe('a\nscalar f32\nz');
    expect(selectVariant(src, { VEC4: false, W_PACKED: true })).toBe('a\nscalar packed\nz');
  });
  it('an untaken outer block hides its inner branches whatever their flags', () => {
    const s = '//#if A\n//#if B\nab\n//#else\na!b\n//#endif\n//#endif\nend';
    expect(selectVariant(s, { A: false, B: false })).toBe('end');
    expect(selectVariant(s, { A: false, B: true })).toBe('end');
  });
  it('a source without directives is unchanged', () => {
    expect(selectVariant('fn f() {}\n// #if is only a directive at //#', {})).toBe('fn f() {}\n// #if is only a directive at //#');
  });
  it('errors name the file, line and problem', () => {
    expect(() => selectVariant('//#if VEC4\nx\n//#endif', {}, 'm.wgsl')).toThrow(/m\.wgsl:1: variant flag 'VEC4' is not set/);
    expect(() => selectVariant('//#if A\nx', { A: true }, 'm.wgsl')).toThrow(/m\.wgsl: '\/\/#if' at line 1 has no '\/\/#endif'/);
    expect(() => selectVariant('x\n//#endif', {}, 'm.wgsl')).toThrow(/m\.wgsl:2: '\/\/#endif' without '\/\/#if'/);
    expect(() => selectVariant('//#if A\n//#else\n//#elif A\n//#endif', { A: true }, 'm.wgsl')).toThrow(/m\.wgsl:3: '\/\/#elif' after '\/\/#else' \(block opened at line 1\)/);
    expect(() => selectVariant('//#if A && B\n//#endif', { A: true, B: true }, 'm.wgsl')).toThrow(/expected NAME or !NAME/);
    expect(() => selectVariant('//#if A\n//#else A\n//#endif', { A: true }, 'm.wgsl')).toThrow(/'\/\/#else' takes no condition/);
  });
});
