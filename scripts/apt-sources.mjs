// What scripts/setup.mjs needs to know about apt to install lavapipe from Mesa ≥ 25.0 (the software
// Vulkan driver with shader-f16 that Dawn accepts): the configured sources (one-line `.list` files and
// deb822 `.sources` files), the OS release, and the resulting plan. Pure functions over file text
// plus one reader; node: builtins only (setup runs before npm packages exist).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @typedef {{ file: string, types: string[], uris: string[], suites: string[], components: string[], signedBy?: string }} AptSource
 * @typedef {{ id: string, idLike: string[], codename: string }} OsRelease
 * @typedef {{ ok: true, suite?: string, source?: { path: string, text: string }, install: string[] } | { ok: false, why: string }} LavapipePlan
 */

/** One-line format: `deb [opt=value …] URI SUITE [COMPONENT …]`; comments, deb-src and blanks skipped. */
export function parseOneLine(text, file) {
  /** @type {AptSource[]} */
  const out = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const opts = Object.fromEntries((m[2] ?? '').trim().split(/\s+/).filter(Boolean).map((o) => o.split('=')));
    out.push({
      file, types: [m[1]], uris: [m[3]], suites: [m[4]], components: m[5].split(/\s+/).filter(Boolean),
      ...(opts['signed-by'] ? { signedBy: opts['signed-by'] } : {}),
    });
  }
  return out;
}

/** deb822 format: stanzas of `Field: value` (continuation lines indented), `Enabled: no` skipped. */
export function parseDeb822(text, file) {
  /** @type {AptSource[]} */
  const out = [];
  for (const stanza of text.split(/\n[ \t]*\n/)) {
    /** @type {Record<string, string>} */
    const fields = {};
    let last = '';
    for (const line of stanza.split('\n')) {
      if (/^\s*#/.test(line) || !line.trim()) continue;
      if (/^\s/.test(line) && last) {
        fields[last] += `\n${line.trim()}`;
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (m) fields[(last = m[1].toLowerCase())] = m[2].trim();
    }
    if (!fields.types || !fields.uris || !fields.suites) continue;
    if (/^(no|false|0)$/i.test(fields.enabled ?? '')) continue;
    const words = (v) => (v ?? '').split(/\s+/).filter(Boolean);
    // Signed-By holds a key file path, or an inline key (multi-line): only a path is copied.
    const signedBy = fields['signed-by'] && !fields['signed-by'].includes('\n') ? fields['signed-by'] : undefined;
    out.push({
      file, types: words(fields.types), uris: words(fields.uris), suites: words(fields.suites),
      components: words(fields.components), ...(signedBy ? { signedBy } : {}),
    });
  }
  return out;
}

/** Every source apt reads: `<aptDir>/sources.list` and `sources.list.d/*.list|*.sources` (other names are ignored, as apt does). */
export function readAptSources(aptDir) {
  const files = [join(aptDir, 'sources.list')];
  const d = join(aptDir, 'sources.list.d');
  if (existsSync(d)) files.push(...readdirSync(d).filter((n) => /\.(list|sources)$/.test(n)).sort().map((n) => join(d, n)));
  return files.filter((f) => existsSync(f)).flatMap((f) => {
    const text = readFileSync(f, 'utf8');
    return f.endsWith('.sources') ? parseDeb822(text, f) : parseOneLine(text, f);
  });
}

/** /etc/os-release's ID, ID_LIKE and VERSION_CODENAME. */
export function parseOsRelease(text) {
  /** @type {Record<string, string>} */
  const v = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) v[m[1]] = m[2].replace(/^(["'])(.*)\1$/, '$2');
  }
  return { id: v.ID ?? '', idLike: (v.ID_LIKE ?? '').split(/\s+/).filter(Boolean), codename: v.VERSION_CODENAME ?? '' };
}

const LAVAPIPE_PACKAGES = ['mesa-vulkan-drivers', 'libvulkan1'];

/**
 * How to get lavapipe from Mesa ≥ 25.0 here. Debian 12 (bookworm): from bookworm-backports, a suite
 * added with the mirror URI (and key) of the configured bookworm source unless a source already has
 * it. Debian 13 (trixie) ships Mesa 25 itself. Anything else: not done, with the reason.
 * @param {OsRelease} os @param {AptSource[]} sources @param {string} aptDir
 * @returns {LavapipePlan}
 */
export function lavapipePlan(os, sources, aptDir) {
  if (os.id !== 'debian') {
    return { ok: false, why: `this is not Debian (/etc/os-release: ID=${os.id || 'unknown'}); install lavapipe from Mesa ≥ 25.0 (mesa-vulkan-drivers) yourself` };
  }
  if (os.codename === 'trixie') return { ok: true, install: LAVAPIPE_PACKAGES };
  if (os.codename !== 'bookworm') {
    return { ok: false, why: `Debian '${os.codename || 'unknown'}' is not one whose Mesa version is known here (bookworm: via bookworm-backports; trixie: Mesa 25)` };
  }
  const suite = 'bookworm-backports';
  const debs = sources.filter((s) => s.types.includes('deb'));
  if (debs.some((s) => s.suites.includes(suite))) return { ok: true, suite, install: LAVAPIPE_PACKAGES };
  const main = debs.find((s) => s.suites.includes('bookworm'));
  if (!main) return { ok: false, why: `no apt source for 'bookworm' to take the mirror from (read ${aptDir}/sources.list and sources.list.d/)` };
  const text = [
    '# Added by internvit-webgpu scripts/setup.mjs: Mesa 25 (lavapipe with shader-f16) for Dawn.',
    'Types: deb', `URIs: ${main.uris[0]}`, `Suites: ${suite}`, 'Components: main',
    ...(main.signedBy ? [`Signed-By: ${main.signedBy}`] : []),
  ].join('\n');
  return { ok: true, suite, install: LAVAPIPE_PACKAGES, source: { path: join(aptDir, 'sources.list.d', `internvit-${suite}.sources`), text: `${text}\n` } };
}
