// Product, bench, CLI and script code never imports test code: tests may import src/ and bench/,
// never the reverse (a helper both need lives outside test/, e.g. bench/lib/dataset-images.ts).
// Every code file under those folders is parsed by TypeScript's preProcessFile (static and type
// imports, re-exports, import(), require()); HTML pages are read for their <script src>.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TEST_DIR = join(ROOT, 'test');
const GUARDED = ['src', 'bench', 'bin', 'scripts'];
const CODE = /\.(?:[cm]?[jt]s|[jt]sx)$/;
const HTML = /\.html$/;

/** Module specifiers a file names (an HTML page: its scripts' src). */
function specifiersOf(path: string, text: string): string[] {
  if (HTML.test(path)) return [...text.matchAll(/<script\b[^>]*\bsrc\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]!);
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** The paths under test/ that `path` (absolute) imports, relative to the repository root. */
function testImportsOf(path: string, text: string): string[] {
  return specifiersOf(path, text)
    // Bare specifiers are packages or package.json `imports` (#platform), none of which maps into test/.
    .filter((s) => s.startsWith('.') || s.startsWith('/'))
    .map((s) => {
      const file = s.replace(/[?#].*$/, ''); // Vite queries: '?raw', '?url'
      return s.startsWith('/') ? join(ROOT, file) : resolve(dirname(path), file);
    })
    .filter((p) => p === TEST_DIR || p.startsWith(TEST_DIR + sep))
    .map((p) => relative(ROOT, p));
}

function guardedFiles(): string[] {
  return GUARDED.flatMap((dir) => readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .map((f) => join(ROOT, dir, f))
    .filter((f) => !f.split(sep).includes('node_modules') && (CODE.test(f) || HTML.test(f))));
}

describe('no product, bench, CLI or script code imports test code', () => {
  it(`no file under ${GUARDED.join('/, ')}/ imports from test/`, () => {
    const files = guardedFiles();
    const violations = files.flatMap((f) => testImportsOf(f, readFileSync(f, 'utf8')).map((t) => `${relative(ROOT, f)} imports ${t}`));
    console.log(`${files.length} files under ${GUARDED.join(', ')} checked`);
    expect(violations).toEqual([]);
    // The scan reached every folder and parsed real imports (a scan that saw nothing would pass).
    for (const dir of GUARDED) expect(files.some((f) => f.startsWith(join(ROOT, dir) + sep)), `files under ${dir}/`).toBe(true);
    const dataset = join(ROOT, 'bench/lib/dataset.ts');
    expect(specifiersOf(dataset, readFileSync(dataset, 'utf8'))).toContain('./dataset-images.js');
  });

  it('catches every import form, and only paths that resolve into test/', () => {
    const at = join(ROOT, 'bench/lib/example.ts');
    const text = [
      "import { a } from '../../test/a.js';",
      "import type { B } from '../../test/b.js';",
      "import '../../test/side-effect.js';",
      "export * from '../../test/c.js';",
      "export { d } from '../../test/d.js';",
      "const e = await import('../../test/e.js');",
      "const f = require('../../test/f.cjs');",
      "import g from '../../test/g.wgsl?raw';",
      "import h from '/test/h.ts';",
      // Not test code: src/, a folder named test inside bench/lib, packages, #platform, a name containing 'test'.
      "import { rng } from '../../src/kernels/check-harness.js';",
      "import { x } from './test/x.js';",
      "import { describe } from 'vitest';",
      "import { platform } from '#platform';",
      "import { y } from '../../testdata/y.js';",
    ].join('\n');
    expect(testImportsOf(at, text)).toEqual(['a.js', 'b.js', 'side-effect.js', 'c.js', 'd.js', 'e.js', 'f.cjs', 'g.wgsl', 'h.ts'].map((f) => `test/${f}`));
    const page = join(ROOT, 'bench/index.html');
    expect(testImportsOf(page, '<script type="module" src="../test/browser/page.ts"></script><script src="./main.ts"></script>'))
      .toEqual(['test/browser/page.ts']);
  });
});
