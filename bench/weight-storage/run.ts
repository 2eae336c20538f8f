// npx tsx bench/weight-storage/run.ts [MiB]: headless Chromium (scripts/chromium.ts) writes a streamed
// file of MiB (default 128) into Cache Storage, OPFS and IndexedDB and reads it back in 16 MiB ranges;
// prints one line per store. Why the weight cache uses Cache Storage: README, Weight cache.
import { fileURLToPath } from 'node:url';
import { openBrowser } from '../../scripts/chromium.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const mib = Number(process.argv[2] ?? 128);
const session = await openBrowser({
  vite: { configFile: false, root, appType: 'mpa', logLevel: 'warn', cacheDir: `${root}/node_modules/.vite-weight-storage`, server: { fs: { allow: [root] } } },
  protocolTimeoutMs: 600_000,
});
try {
  const page = await session.browser.newPage();
  await page.goto(`${session.url}/bench/weight-storage/?mib=${mib}`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.__storage?.done === true, { timeout: 600_000, polling: 500 });
  const r = await page.evaluate(() => window.__storage!);
  if (r.error) throw new Error(r.error);
  console.log(`${(await session.browser.version())}, ${mib} MiB streamed in 64 KiB chunks, read back in 16 MiB ranges`);
  for (const x of r.results) {
    const rate = (ms: number) => `${(mib / (ms / 1000)).toFixed(0)} MiB/s`;
    console.log(`${x.store.padEnd(54)} write ${x.writeMs.toFixed(0).padStart(6)} ms (${rate(x.writeMs)})  read ${x.readMs.toFixed(0).padStart(6)} ms (${rate(x.readMs)})  ${x.ok ? `bytes ok${x.note ? `; ${x.note}` : ''}` : `FAILED ${x.note ?? 'wrong bytes'}`}`);
  }
} finally {
  await session.close();
}
