// The browser root entry, minified and gzipped as a bundler would ship it, stays under its budget
// (scripts/bundle-size.ts: GZIP_BUDGET_BYTES; raising it is a reviewed change, with the reason).
import { describe, expect, it } from 'vitest';
import { formatBundleSize, GZIP_BUDGET_BYTES, measureBundle } from '../../scripts/bundle-size.js';

describe('bundle size', () => {
  it(`the browser root entry is at most ${GZIP_BUDGET_BYTES / 1000} kB gzipped`, async () => {
    const size = await measureBundle();
    console.log(formatBundleSize(size));
    expect(size.root.files[0]).toBe('index.js');
    expect(size.root.gzipBytes).toBeGreaterThan(10_000); // a real build was measured, not an empty file
    expect(size.root.gzipBytes).toBeLessThanOrEqual(GZIP_BUDGET_BYTES);
  });
});
