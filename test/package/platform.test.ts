// The browser side of `#platform` (src/platform/browser.ts): every Node-only feature fails with an
// error that names it and says which build to use, instead of a bundler's missing-module error.
import { describe, expect, it } from 'vitest';
import { platform as browser } from '../../src/platform/browser.js';
import { platform as node } from '../../src/platform/node.js';

describe('#platform', () => {
  it('the browser platform names each Node-only feature', async () => {
    expect(browser.kind).toBe('browser');
    const cases: [Promise<unknown>, RegExp][] = [
      [browser.nodeAdapter({}), /Dawn's WebGPU adapter \(the 'webgpu' package\) needs Node/],
      [browser.fs(), /reading local files needs Node/],
      [browser.fileURLToPath('file:///x'), /a file: URL needs Node/],
      [browser.png(), /decoding PNG with pngjs needs Node/],
      [browser.jpeg(), /decoding JPEG with jpeg-js needs Node/],
    ];
    for (const [p, want] of cases) await expect(p).rejects.toThrow(want);
    await expect(browser.fs()).rejects.toThrow(/this is internvit-webgpu's browser build/);
  });

  it('the node platform loads the real modules', async () => {
    expect(node.kind).toBe('node');
    expect(typeof (await node.fs()).open).toBe('function');
    expect(await node.fileURLToPath('file:///tmp/a%20b')).toBe('/tmp/a b');
    expect(typeof (await node.png()).PNG.sync.read).toBe('function');
    expect(typeof (await node.jpeg()).decode).toBe('function');
  });

  it('the core resolves #platform to the node side in Node (vitest)', async () => {
    const { platform } = await import('#platform');
    expect(platform.kind).toBe('node');
  });
});
