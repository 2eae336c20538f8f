#!/usr/bin/env node
// Installs what `npm test` / `npm start` need on a fresh Debian machine, and nothing when it is
// already there:
//   1. npm packages: `npm ci` when node_modules is missing or does not match package-lock.json;
//   2. a WebGPU adapter for Dawn (probed in a child process through src/runtime/device.ts): without
//      one, apt-get install chromium (its SwiftShader Vulkan driver) and libvulkan1 (the loader);
//   3. for the tests (--for=test): /usr/bin/chromium for the browser tests.
// Runs before the dependencies exist, so it uses node: builtins only.
//
//   node scripts/setup.mjs [--for=test|start]
//
// Environment (for testing this script; none is needed in normal use):
//   INTERNVIT_SKIP_SETUP=1                   do nothing
//   INTERNVIT_SETUP_SIMULATE_NO_ADAPTER=1    treat the adapter probe as failed
//   INTERNVIT_SETUP_SIMULATE_NO_CHROMIUM=1   treat /usr/bin/chromium as missing
//   INTERNVIT_SETUP_SIMULATE_NO_APT=1        treat apt-get as unusable
//   INTERNVIT_SETUP_DRY_RUN=1                print the apt-get commands instead of running them
//   INTERNVIT_CHROMIUM=/path                 the browser the tests use (default /usr/bin/chromium)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const flag = (name) => env[name] === '1' || env[name] === 'true';
const purpose = (process.argv.find((a) => a.startsWith('--for=')) ?? '--for=test').slice('--for='.length);
const chromium = env.INTERNVIT_CHROMIUM || '/usr/bin/chromium';
const dryRun = flag('INTERNVIT_SETUP_DRY_RUN');
const APT_PACKAGES = { chromium: 'chromium', vulkanLoader: 'libvulkan1' };

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

function aptInstall(packages, reasons) {
  const prefix = aptPrefix();
  const list = [...new Set(packages)];
  if (!prefix) {
    throw new SetupError(
      `${reasons.join('; ')}.\nInstall these packages, then run the command again:\n` +
        `  sudo apt-get update && sudo apt-get install -y ${list.join(' ')}\n` +
        '(chromium ships the SwiftShader Vulkan driver that Dawn uses without a GPU, and the browser for the ' +
        'browser tests; libvulkan1 is the Vulkan loader. On a machine with a GPU, a Vulkan driver for it replaces SwiftShader.)',
    );
  }
  log(`${reasons.join('; ')}: installing ${list.join(' ')} with apt-get`);
  const aptEnv = { DEBIAN_FRONTEND: 'noninteractive' };
  const sudoEnv = prefix.length ? ['env', 'DEBIAN_FRONTEND=noninteractive'] : [];
  const cmd = (args) => (prefix.length ? [prefix[0], [...prefix.slice(1), ...sudoEnv, 'apt-get', ...args]] : ['apt-get', args]);
  run(...cmd(['update']), { install: true, env: aptEnv });
  run(...cmd(['install', '-y', ...list]), { install: true, env: aptEnv });
}

function main() {
  if (flag('INTERNVIT_SKIP_SETUP')) return;
  checkNode();
  ensurePackages();

  const needs = [];
  const reasons = [];
  let probe = probeAdapter();
  if (probe.ok) {
    log(probe.adapter);
  } else {
    reasons.push(`no WebGPU adapter (${probe.error})`);
    needs.push(APT_PACKAGES.chromium, APT_PACKAGES.vulkanLoader);
  }
  const chromiumMissing = flag('INTERNVIT_SETUP_SIMULATE_NO_CHROMIUM') || !existsSync(chromium);
  if (purpose === 'test' && chromiumMissing) {
    if (env.INTERNVIT_CHROMIUM) throw new SetupError(`INTERNVIT_CHROMIUM=${chromium} does not exist`);
    reasons.push(`${chromium} is missing (the browser tests drive it)`);
    needs.push(APT_PACKAGES.chromium);
  }
  if (!needs.length) return;

  aptInstall(needs, reasons);
  if (dryRun) {
    log('dry run: nothing was installed');
    return;
  }
  if (!probe.ok) {
    probe = probeAdapter();
    if (!probe.ok) {
      const icd = env.VK_ICD_FILENAMES ? ` (VK_ICD_FILENAMES=${env.VK_ICD_FILENAMES} is set: Dawn uses only that driver)` : '';
      throw new SetupError(`still no WebGPU adapter after installing ${needs.join(' ')}${icd}: ${probe.error}`);
    }
    log(probe.adapter);
  }
}

try {
  main();
} catch (e) {
  if (!(e instanceof SetupError)) throw e;
  console.error(`[setup] error: ${e.message}`);
  process.exit(1);
}
