// Node side of the repository's test pages: the dev server's options for a page under the repository
// root, and one page run from opening the tab to its report (window[name] once `.done`).
import type { InlineConfig } from 'vite';
import { forwardPageLog, isAbortedHead, type BrowserSession } from '../../scripts/chromium.js';
import { repoRoot } from '../../scripts/pack.js';
import { readPageReport } from './report-json.js';

/**
 * Vite options for the page in `pagePath` (relative to the repository root, which is served, so
 * fixture folders are plain URLs): 'mpa', so a missing file is a 404 (the loader probes for
 * model.safetensors), never an index.html fallback; its own dependency cache; the page's imports
 * scanned up front, so Vite does not discover a dependency mid-run and reload the page.
 */
export function repoPageVite(pagePath: string, cacheName: string, extra: InlineConfig = {}): InlineConfig {
  return {
    configFile: false, root: repoRoot, appType: 'mpa', logLevel: 'warn',
    cacheDir: `${repoRoot}/node_modules/.vite-browser-${cacheName}`, server: { fs: { allow: [repoRoot] } },
    optimizeDeps: { entries: [`${pagePath}index.html`] },
    ...extra,
  };
}

/**
 * Opens `path` (with its query) in a new tab, waits until window[name].done, reads window[name]
 * (NaN kept) and closes the tab. `lines`: what the page logged (errors, warnings, failed requests).
 */
export async function runPage<T>(session: BrowserSession, path: string, name: string, opts: { timeoutMs: number; polling?: number }): Promise<{ report: T; lines: string[] }> {
  const page = await session.browser.newPage();
  const lines: string[] = [];
  forwardPageLog(page, (line) => lines.push(line), { ignoreRequest: isAbortedHead });
  await page.goto(`${session.url}/${path}`, { waitUntil: 'load' });
  await page.waitForFunction((key) => (window as unknown as Record<string, { done?: boolean } | undefined>)[key]?.done === true,
    { timeout: opts.timeoutMs, polling: opts.polling ?? 500 }, name);
  const report = await readPageReport<T>(page, name);
  await page.close();
  return { report, lines };
}
