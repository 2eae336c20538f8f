#!/usr/bin/env node
// Installs what `npm test` / `npm start` need on a fresh Debian machine, and nothing when it is
// already there:
//   1. npm packages: `npm ci` when node_modules is missing or does not match package-lock.json;
//   2. a WebGPU adapter for Dawn (probed in a child process through src/runtime/device.ts). Without a
//      hardware adapter, or with only a software one that lacks shader-f16 (SwiftShader): lavapipe
//      from Mesa ≥ 25.0 (shader-f16, subgroups), on Debian 12 from bookworm-backports, a suite added
//      with the mirror of the configured apt sources (scripts/apt-sources.mjs). With no adapter at all
//      also chromium (its SwiftShader Vulkan driver is the second fallback) and libvulkan1 (the loader);
//   3. for the tests (--for=test): /usr/bin/chromium for the browser tests.
// Runs before the dependencies exist, so it uses node: builtins only.
//
//   node scripts/setup.mjs [--for=test|start]
//
// Environment (for testing this script; none is needed in normal use):
//   INTERNVIT_SKIP_SETUP=1                   do nothing
//   INTERNVIT_SETUP_SIMULATE_NO_ADAPTER=1    treat the adapter probe as failed
//   INTERNVIT_SETUP_SIMULATE_NO_F16=1        treat the adapter as software without shader-f16 (SwiftShader)
//   INTERNVIT_SETUP_SIMULATE_NO_CHROMIUM=1   treat /usr/bin/chromium as missing
//   INTERNVIT_SETUP_SIMULATE_NO_APT=1        treat apt-get as unusable
//   INTERNVIT_SETUP_DRY_RUN=1                print the apt-get commands (and the source file) instead of running them
//   INTERNVIT_SETUP_APT_DIR=/etc/apt         where the apt sources are read (and the backports source written)
//   INTERNVIT_SETUP_OS_RELEASE=/etc/os-release
//   INTERNVIT_CHROMIUM=/path                 the browser the tests use (default /usr/bin/chromium)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lavapipePlan, parseOsRelease, readAptSources } from './apt-sources.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const flag = (name) => env[name] === '1' || env[name] === 'true';
const purpose = (process.argv.find((a) => a.startsWith('--for=')) ?? '--for=test').slice('--for='.length);
const chromium = env.INTERNVIT_CHROMIUM || '/usr/bin/chromium';
const dryRun = flag('INTERNVIT_SETUP_DRY_RUN');
const aptDir = env.INTERNVIT_SETUP_APT_DIR || '/etc/apt';
const osReleaseFile = env.INTERNVIT_SETUP_OS_RELEASE || '/etc/os-release';
const APT_PACKAGES = { chromium: 'chromium', vulkanLoader: 'libvulkan1' };
/** Variables through which the user chose the Vulkan drivers (as src/runtime/vulkan-drivers.ts). */
const USER_DRIVER_ENV = ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_LOADER_DRIVERS_SELECT', 'VK_LOADER_DRIVERS_DISABLE'];

const log = (msg) => console.log(`[setup] ${msg}`);

class SetupError extends Error {}

function run(cmd, args, opts = {}) {
  log(`${dryRun && opts.install ? 'would run' : 'running'}: ${[cmd, ...args].join(' ')}`);
  if (dryRun && opts.install) return;
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...env, ...opts.env } });
  if (r.error) throw new SetupError(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0) throw new SetupError(`${[cmd, ...args].join(' ')} failed (exit ${r.status ?? r.signal})`);
}

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    throw new SetupError(`Node ${process.versions.node} is too old: internvit-webgpu needs Node >= 20.19 (see README "Requirements")`);
  }
}

/** Why node_modules does not match package-lock.json, or null when it does. */
function staleReason() {
  const installed = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(join(root, 'node_modules'))) return 'node_modules is missing';
  if (!existsSync(installed)) return 'node_modules was not installed by npm (no node_modules/.package-lock.json)';
  const want = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages ?? {};
  const have = JSON.parse(readFileSync(installed, 'utf8')).packages ?? {};
  for (const [path, pkg] of Object.entries(want)) {
    if (path === '' || pkg.link) continue;
    const got = have[path];
    // Optional packages for other platforms (esbuild, rollup binaries) are legitimately absent.
    if (!got) {
      if (pkg.optional) continue;
      return `${path} is not installed`;
    }
    if (got.version !== pkg.version) return `${path} is ${got.version}, package-lock.json wants ${pkg.version}`;
    if (!existsSync(join(root, path))) return `${path} is missing on disk`;
  }
  return null;
}

function ensurePackages() {
  const why = staleReason();
  if (!why) return;
  log(`installing npm packages: ${why}`);
  // Inside an npm script npm_execpath is the npm that runs us; use the same one.
  const npm = env.npm_execpath && /npm-cli\.c?js$/.test(env.npm_execpath) ? [process.execPath, env.npm_execpath] : ['npm'];
  run(npm[0], [...npm.slice(1), 'ci', '--no-audit', '--no-fund']);
}

/** Asks src/runtime/device.ts for a device in a child process; never throws. */
function probeAdapter() {
  if (flag('INTERNVIT_SETUP_SIMULATE_NO_ADAPTER')) {
    return { ok: false, error: 'simulated by INTERNVIT_SETUP_SIMULATE_NO_ADAPTER=1' };
  }
  if (flag('INTERNVIT_SETUP_SIMULATE_NO_F16')) {
    return { ok: true, software: true, shaderF16: false, adapter: 'adapter: a software adapter without shader-f16 (simulated by INTERNVIT_SETUP_SIMULATE_NO_F16=1)' };
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', join('scripts', 'probe-adapter.ts')], {
    cwd: root, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const line = (r.stdout ?? '').trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (line) {
    try {
      return JSON.parse(line);
    } catch { /* fall through */ }
  }
  const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
  return { ok: false, error: `the adapter probe crashed (${why}): ${(r.stderr ?? '').trim().split('\n').slice(-5).join(' | ')}` };
}

/** ['sudo', '-n'] / [] when apt-get can install, null when it cannot. */
function aptPrefix() {
  if (flag('INTERNVIT_SETUP_SIMULATE_NO_APT')) return null;
  if (process.platform !== 'linux') return null;
  const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
  if (!has('apt-get')) return null;
  if (process.getuid?.() === 0) return [];
  if (has('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0) return ['sudo', '-n'];
  return null;
}

/** The apt-get command lines (argv) for a prefix ([] as root, ['sudo', '-n'] otherwise). */
function aptCommand(prefix, args) {
  const sudoEnv = prefix.length ? ['env', 'DEBIAN_FRONTEND=noninteractive'] : [];
  return prefix.length ? [prefix[0], [...prefix.slice(1), ...sudoEnv, 'apt-get', ...args]] : ['apt-get', args];
}

/** What a user without root runs instead, as text. */
function manualCommands(packages, lavapipe) {
  const lines = [];
  if (lavapipe?.source) lines.push(`  sudo tee ${lavapipe.source.path} <<'EOF'\n${lavapipe.source.text}EOF`);
  lines.push('  sudo apt-get update');
  if (packages.length) lines.push(`  sudo apt-get install -y ${packages.join(' ')}`);
  if (lavapipe) lines.push(`  sudo apt-get install -y ${lavapipe.suite ? `-t ${lavapipe.suite} ` : ''}${lavapipe.install.join(' ')}`);
  return lines.join('\n');
}

/** Writes the apt source file (as root, or through sudo tee); prints it in a dry run. */
function writeSource(prefix, source) {
  if (dryRun) {
    log(`would write ${source.path}:\n${source.text.trimEnd().replace(/^/gm, '    ')}`);
    return;
  }
  log(`adding ${source.path}`);
  if (!prefix.length) {
    writeFileSync(source.path, source.text);
    return;
  }
  const r = spawnSync(prefix[0], [...prefix.slice(1), 'tee', source.path], { input: source.text, stdio: ['pipe', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new SetupError(`could not write ${source.path} (sudo tee: exit ${r.status ?? r.signal})`);
}

/** lavapipe from Mesa ≥ 25.0 for this OS, or why not. */
function planLavapipe() {
  if (process.platform !== 'linux') return { ok: false, why: 'not Linux' };
  if (!existsSync(osReleaseFile)) return { ok: false, why: `${osReleaseFile} is missing, so the OS is unknown` };
  try {
    return lavapipePlan(parseOsRelease(readFileSync(osReleaseFile, 'utf8')), readAptSources(aptDir), aptDir);
  } catch (e) {
    return { ok: false, why: `cannot read the apt sources in ${aptDir}: ${e.message}` };
  }
}

function main() {
  if (flag('INTERNVIT_SKIP_SETUP')) return;
  checkNode();
  ensurePackages();

  const needs = [];
  const reasons = [];
  let probe = probeAdapter();
  if (probe.ok) log(probe.adapter);
  else {
    reasons.push(`no WebGPU adapter (${probe.error})`);
    // SwiftShader stays the second fallback (and is the browser tests' adapter).
    needs.push(APT_PACKAGES.chromium, APT_PACKAGES.vulkanLoader);
  }
  let lavapipe = null;
  const userDrivers = USER_DRIVER_ENV.filter((k) => env[k]);
  if (probe.ok && probe.software && !probe.shaderF16 && (probe.lavapipe || userDrivers.length)) {
    // Installing again would not change Dawn's choice.
    log(`the adapter has no shader-f16, and ${userDrivers.length ? `${userDrivers.join(', ')} chooses the Vulkan driver` : 'lavapipe from Mesa ≥ 25.0 is installed but was not chosen'}: the f16 checks will be skipped`);
  } else if (!probe.ok || (probe.software && !probe.shaderF16)) {
    const plan = planLavapipe();
    if (plan.ok) lavapipe = plan;
    else log(`not installing lavapipe (Mesa ≥ 25.0, the software adapter with shader-f16): ${plan.why}`);
  }
  const chromiumMissing = flag('INTERNVIT_SETUP_SIMULATE_NO_CHROMIUM') || !existsSync(chromium);
  if (purpose === 'test' && chromiumMissing) {
    if (env.INTERNVIT_CHROMIUM) throw new SetupError(`INTERNVIT_CHROMIUM=${chromium} does not exist`);
    reasons.push(`${chromium} is missing (the browser tests drive it)`);
    needs.push(APT_PACKAGES.chromium);
  }
  const packages = [...new Set(needs)];
  if (!packages.length && !lavapipe) return;

  const prefix = aptPrefix();
  if (!prefix) {
    if (packages.length) {
      throw new SetupError(
        `${reasons.join('; ')}.\nRun these commands (as root), then run this one again:\n${manualCommands(packages, lavapipe)}\n` +
          '(lavapipe, Mesa\'s software Vulkan driver, gives Dawn an adapter with shader-f16 without a GPU; chromium ships the ' +
          'SwiftShader Vulkan driver, the second fallback, and the browser for the browser tests; libvulkan1 is the Vulkan loader. ' +
          'On a machine with a GPU, a Vulkan driver for it replaces both.)',
      );
    }
    log(`the adapter has no shader-f16, so the f16 checks will be skipped. For lavapipe (Mesa ≥ 25.0), which has it, run as root:\n${manualCommands([], lavapipe)}`);
    return;
  }
  const why = [...reasons, ...(lavapipe ? [probe.ok ? 'the software adapter has no shader-f16: lavapipe from Mesa ≥ 25.0 has it' : 'lavapipe from Mesa ≥ 25.0 is the preferred software adapter'] : [])];
  log(`${why.join('; ')}: installing ${[...new Set([...packages, ...(lavapipe?.install ?? [])])].join(' ')} with apt-get`);
  const aptEnv = { DEBIAN_FRONTEND: 'noninteractive' };
  if (lavapipe?.source) {
    try {
      writeSource(prefix, lavapipe.source);
    } catch (e) {
      if (!(e instanceof SetupError)) throw e;
      log(`warning: ${e.message}; not installing lavapipe`);
      lavapipe = null;
    }
  }
  run(...aptCommand(prefix, ['update']), { install: true, env: aptEnv });
  if (packages.length) run(...aptCommand(prefix, ['install', '-y', ...packages]), { install: true, env: aptEnv });
  if (lavapipe) {
    try {
      run(...aptCommand(prefix, ['install', '-y', ...(lavapipe.suite ? ['-t', lavapipe.suite] : []), ...lavapipe.install]), { install: true, env: aptEnv });
    } catch (e) {
      // Not fatal by itself: SwiftShader may still give an adapter (checked below).
      if (!(e instanceof SetupError)) throw e;
      log(`warning: installing lavapipe failed: ${e.message}`);
      lavapipe = null;
    }
  }
  if (dryRun) {
    log('dry run: nothing was installed');
    return;
  }
  probe = probeAdapter();
  if (!probe.ok) {
    const icd = env.VK_ICD_FILENAMES ? ` (VK_ICD_FILENAMES=${env.VK_ICD_FILENAMES} is set: Dawn uses only that driver)` : '';
    throw new SetupError(`still no WebGPU adapter after installing ${[...new Set([...packages, ...(lavapipe?.install ?? [])])].join(' ')}${icd}: ${probe.error}`);
  }
  log(probe.adapter);
  if (probe.software && !probe.shaderF16) log('warning: Dawn still picks a software adapter without shader-f16; the f16 checks will be skipped');
}

try {
  main();
} catch (e) {
  if (!(e instanceof SetupError)) throw e;
  console.error(`[setup] error: ${e.message}`);
  process.exit(1);
}
