// scripts/setup.mjs decisions, as dry runs (INTERNVIT_SETUP_DRY_RUN=1 prints the apt-get commands and
// the apt source it would write) on simulated adapters, fixture apt folders and OS releases; and
// scripts/apt-sources.mjs's parsers. Nothing here installs anything or needs a GPU.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lavapipePlan, parseDeb822, parseOneLine, parseOsRelease } from '../../scripts/apt-sources.mjs';
import { skipTest } from '../node-gpu.js';

const tmp = mkdtempSync(join(tmpdir(), 'internvit-setup-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const DEBIAN_SOURCES = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;
const BOOKWORM = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n';

/** An apt folder and os-release file made of these texts. */
function machine(files: Record<string, string>, osRelease = BOOKWORM): Record<string, string> {
  const dir = mkdtempSync(join(tmp, 'apt-'));
  mkdirSync(join(dir, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'os-release'), osRelease);
  return { INTERNVIT_SETUP_APT_DIR: dir, INTERNVIT_SETUP_OS_RELEASE: join(dir, 'os-release') };
}

function setup(env: Record<string, string>, purpose = 'start') {
  // No driver choice from the caller's environment unless a case sets one.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VK_')));
  const r = spawnSync(process.execPath, ['scripts/setup.mjs', `--for=${purpose}`], {
    encoding: 'utf8', timeout: 60_000,
    // A browser that exists, unless a case says otherwise; never a real install.
    env: { ...base, INTERNVIT_CHROMIUM: process.execPath, ...env, INTERNVIT_SETUP_DRY_RUN: '1' },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const isRoot = process.getuid?.() === 0;
const canSudo = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
/** Dry runs print commands only where apt-get could run them (setup reports the commands otherwise). */
function needApt(ctx: { skip(note?: string): never }): string {
  if (process.platform !== 'linux' || !hasApt) skipTest(ctx, 'apt-get is not available here, so setup never plans apt-get commands');
  if (!isRoot && !canSudo) skipTest(ctx, 'not root and no passwordless sudo: setup prints the commands for the user instead (tested below)');
  return isRoot ? 'apt-get' : 'sudo -n env DEBIAN_FRONTEND=noninteractive apt-get';
}
const lines = (out: string) => out.split('\n').filter((l) => l.startsWith('[setup] would') || l.startsWith('    ')).map((l) => l.replace(/^\[setup\] /, ''));

describe('setup.mjs decisions (dry run)', () => {
  it('no adapter on Debian 12: adds bookworm-backports with the mirror of the bookworm source, installs Mesa 25 from it and chromium', (ctx) => {
    const apt = needApt(ctx);
    const env = machine({ 'sources.list.d/debian.sources': DEBIAN_SOURCES });
    const r = setup({ ...env, INTERNVIT_SETUP_SIMULATE_NO_ADAPTER: '1' });
    console.log(r.out);
    expect(r.code).toBe(0);
    expect(lines(r.out)).toEqual([
      `would write ${env.INTERNVIT_SETUP_APT_DIR}/sources.list.d/internvit-bookworm-backports.sources:`,
      '    # Added by internvit-webgpu scripts/setup.mjs: Mesa 25 (lavapipe with shader-f16) for Dawn.',
      '    Types: deb', '    URIs: http://mirror.example/debian', '    Suites: bookworm-backports', '    Components: main',
      '    Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      `would run: ${apt} update`,
      `would run: ${apt} install -y chromium libvulkan1`,
      `would run: ${apt} install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1`,
    ]);
  });

  it('a software adapter without shader-f16 (SwiftShader): only Mesa 25, and no second copy of an existing backports source', (ctx) => {
    const apt = needApt(ctx);
    const env = machine({
      'sources.list': 'deb http://mirror.example/debian bookworm main\n# deb http://other.example/debian bookworm-backports main\n',
      'sources.list.d/backports.list': 'deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm-backports main contrib\n',
    });
    const r = setup({ ...env, INTERNVIT_SETUP_SIMULATE_NO_F16: '1' }, 'test');
    console.log(r.out);
    expect(r.code).toBe(0);
    expect(lines(r.out)).toEqual([
      `would run: ${apt} update`,
      `would run: ${apt} install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1`,
    ]);
  });

  it('a software adapter without shader-f16 chosen through VK_ICD_FILENAMES: nothing installed, a note', () => {
    const env = machine({ 'sources.list.d/debian.sources': DEBIAN_SOURCES });
    const r = setup({ ...env, INTERNVIT_SETUP_SIMULATE_NO_F16: '1', VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json' });
    console.log(r.out);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/the adapter has no shader-f16, and VK_ICD_FILENAMES chooses the Vulkan driver: the f16 checks will be skipped/);
    expect(lines(r.out)).toEqual([]);
  });

  it('a one-line sources.list: the new source copies its URI and signed-by key', (ctx) => {
    needApt(ctx);
    const env = machine({ 'sources.list': 'deb [signed-by=/etc/apt/k.gpg] https://mirror.example/debian/ bookworm main contrib\n' });
    const r = setup({ ...env, INTERNVIT_SETUP_SIMULATE_NO_F16: '1' });
    expect(r.out).toContain('    URIs: https://mirror.example/debian/\n');
    expect(r.out).toContain('    Signed-By: /etc/apt/k.gpg\n');
  });

  it('Debian 13 has Mesa 25 itself: no source added, no -t', (ctx) => {
    const apt = needApt(ctx);
    const env = machine({ 'sources.list.d/debian.sources': DEBIAN_SOURCES.replace(/bookworm/g, 'trixie') }, BOOKWORM.replace(/bookworm/g, 'trixie'));
    const r = setup({ ...env, INTERNVIT_SETUP_SIMULATE_NO_F16: '1' });
    expect(lines(r.out)).toEqual([`would run: ${apt} update`, `would run: ${apt} install -y mesa-vulkan-drivers libvulkan1`]);
  });

  it('not Debian: lavapipe skipped with the reason, chromium still installed when there is no adapter', (ctx) => {
    const apt = needApt(ctx);
    const env = machine({ 'sources.list': 'deb http://archive.ubuntu.com/ubuntu noble main\n' }, 'ID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\n');
    const r = setup({ ...env, INTERNVIT_SETUP_SIMULATE_NO_ADAPTER: '1' });
    console.log(r.out);
    expect(r.out).toMatch(/not installing lavapipe \(Mesa ≥ 25\.0, the software adapter with shader-f16\): this is not Debian \(\/etc\/os-release: ID=ubuntu\)/);
    expect(lines(r.out)).toEqual([`would run: ${apt} update`, `would run: ${apt} install -y chromium libvulkan1`]);
    // With a working adapter that lacks f16, nothing is run at all.
    const f16 = setup({ ...env, INTERNVIT_SETUP_SIMULATE_NO_F16: '1' });
    expect(f16.code).toBe(0);
    expect(lines(f16.out)).toEqual([]);
  });

  it('Debian 12 without a bookworm source to copy: says so, installs chromium only', (ctx) => {
    needApt(ctx);
    const env = machine({ 'sources.list.d/odd.sources': 'Types: deb\nURIs: http://x.example/\nSuites: stable\nComponents: main\n' });
    const r = setup({ ...env, INTERNVIT_SETUP_SIMULATE_NO_ADAPTER: '1' });
    expect(r.out).toMatch(/not installing lavapipe .*: no apt source for 'bookworm' to take the mirror from/);
    expect(r.out).not.toMatch(/bookworm-backports/);
  });

  it('without apt rights: no adapter fails with every command to run; only missing f16 is a note, exit 0', () => {
    const env = { ...machine({ 'sources.list.d/debian.sources': DEBIAN_SOURCES }), INTERNVIT_SETUP_SIMULATE_NO_APT: '1' };
    const none = setup({ ...env, INTERNVIT_SETUP_SIMULATE_NO_ADAPTER: '1' });
    console.log(none.out);
    expect(none.code).toBe(1);
    expect(none.out).toMatch(/\[setup\] error: no WebGPU adapter .*\nRun these commands \(as root\), then run this one again:\n  sudo tee .*internvit-bookworm-backports\.sources <<'EOF'\n/);
    expect(none.out).toMatch(/\n  sudo apt-get update\n  sudo apt-get install -y chromium libvulkan1\n  sudo apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1\n/);
    const noF16 = setup({ ...env, INTERNVIT_SETUP_SIMULATE_NO_F16: '1' });
    expect(noF16.code).toBe(0);
    expect(noF16.out).toMatch(/the adapter has no shader-f16, so the f16 checks will be skipped\. For lavapipe \(Mesa ≥ 25\.0\), which has it, run as root:/);
  });
});

describe('apt-sources.mjs', () => {
  it('parses deb822 stanzas (comments, continuation lines, Enabled: no) and one-line entries', () => {
    const deb822 = parseDeb822(`${DEBIAN_SOURCES}\nTypes: deb deb-src\nURIs: http://a.example/\n  http://b.example/\nSuites: x\nComponents: main\nEnabled: no\n`, 'f.sources');
    expect(deb822.map((s) => [s.uris, s.suites])).toEqual([
      [['http://mirror.example/debian'], ['bookworm', 'bookworm-updates']],
      [['http://mirror.example/debian-security'], ['bookworm-security']],
    ]);
    expect(parseOneLine('# deb http://x/ bookworm main\ndeb-src http://y/ bookworm main\ndeb [ arch=amd64 ] http://z/ bookworm main non-free # note\n', 'f.list'))
      .toEqual([
        { file: 'f.list', types: ['deb-src'], uris: ['http://y/'], suites: ['bookworm'], components: ['main'] },
        { file: 'f.list', types: ['deb'], uris: ['http://z/'], suites: ['bookworm'], components: ['main', 'non-free'] },
      ]);
  });

  it('reads os-release; an inline Signed-By key is not copied', () => {
    expect(parseOsRelease(BOOKWORM)).toEqual({ id: 'debian', idLike: [], codename: 'bookworm' });
    const inline = parseDeb822('Types: deb\nURIs: http://m/\nSuites: bookworm\nComponents: main\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n', 'k.sources');
    const plan = lavapipePlan(parseOsRelease(BOOKWORM), inline, '/etc/apt');
    expect(plan.ok && plan.source?.text).toBe('# Added by internvit-webgpu scripts/setup.mjs: Mesa 25 (lavapipe with shader-f16) for Dawn.\nTypes: deb\nURIs: http://m/\nSuites: bookworm-backports\nComponents: main\n');
  });
});
