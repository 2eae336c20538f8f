// Dev server for the embed demo page (npm run example:embed; also used by embed-page.browser.test.ts).
// The page imports the library from ../../src, and loads checkpoints from /models/<name>/, which this
// config serves from the repository's models/ folder with HEAD and Range support (the loader reads
// safetensors headers and weight ranges with Range requests). Missing files there are a real 404:
// the loader probes model.safetensors.index.json and must not get index.html instead.
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const pageRoot = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = resolve(pageRoot, '../..');
const modelsRoot = join(repoRoot, 'models');

function sendModelFile(req: IncomingMessage, res: ServerResponse): void {
  const fail = (status: number, text: string) => {
    res.statusCode = status;
    res.setHeader('Content-Type', 'text/plain');
    res.end(text);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'GET or HEAD only');
  let rel: string;
  try {
    rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    return fail(400, 'bad path');
  }
  const file = resolve(modelsRoot, `.${rel}`);
  if (!file.startsWith(modelsRoot + sep)) return fail(403, 'outside models/');
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) return fail(404, `not a file: models${rel}`);
    size = st.size;
  } catch {
    return fail(404, `not found: models${rel}`);
  }
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('Content-Type', file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
  let start = 0;
  let end = size - 1;
  const range = req.headers.range;
  if (range) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (!m || (m[1] === '' && m[2] === '')) return fail(416, `unsupported range ${range}`);
    if (m[1] === '') start = Math.max(0, size - Number(m[2])); // suffix range: the last N bytes
    else {
      start = Number(m[1]);
      if (m[2] !== '') end = Math.min(end, Number(m[2]));
    }
    if (start > end || start >= size) {
      res.setHeader('Content-Range', `bytes */${size}`);
      return fail(416, `range ${range} outside ${size} bytes`);
    }
    res.statusCode = 206;
    res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
  }
  res.setHeader('Content-Length', String(end - start + 1));
  if (req.method === 'HEAD' || size === 0) return void res.end();
  createReadStream(file, { start, end }).on('error', (e) => res.destroy(e)).pipe(res);
}

function serveModels(): Plugin {
  return {
    name: 'serve-models',
    configureServer(server) {
      server.middlewares.use('/models', (req, res) => sendModelFile(req, res));
    },
  };
}

export default defineConfig({
  root: pageRoot,
  // A multi-page app: unknown paths are 404s, not index.html.
  appType: 'mpa',
  publicDir: false,
  cacheDir: join(repoRoot, 'node_modules/.vite-embed-page'),
  plugins: [serveModels()],
  server: { fs: { allow: [repoRoot] } },
  // Scan the page's imports up front, so Vite does not discover a dependency mid-run and reload the page.
  optimizeDeps: { entries: ['index.html'] },
});
