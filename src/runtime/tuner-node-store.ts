// Node only (imported dynamically by tuner.ts under Node): the tuning cache as a JSON file under the
// user cache dir, $INTERNVIT_TUNING_CACHE or $XDG_CACHE_HOME/internvit-webgpu/tuning.json (else
// ~/.cache/…). Written to a temporary file in the same folder and renamed over the old one, so a
// reader never sees half a file. Node modules are imported by non-literal names (as loader.ts does)
// so browser bundlers leave them alone.
import type { TuningStore } from './tuner-cache.js';

type Fs = typeof import('node:fs/promises');
type Os = typeof import('node:os');
type Path = typeof import('node:path');

async function node(): Promise<{ fs: Fs; os: Os; path: Path }> {
  const names = ['node:fs/promises', 'node:os', 'node:path'];
  const [fs, os, path] = await Promise.all(names.map((n) => import(/* @vite-ignore */ n)));
  return { fs: fs as Fs, os: os as Os, path: path as Path };
}

/** The cache file: INTERNVIT_TUNING_CACHE, else $XDG_CACHE_HOME (or ~/.cache)/internvit-webgpu/tuning.json. */
export async function tuningCachePath(env: Record<string, string | undefined> = process.env): Promise<string> {
  if (env.INTERNVIT_TUNING_CACHE) return env.INTERNVIT_TUNING_CACHE;
  const { os, path } = await node();
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'internvit-webgpu', 'tuning.json');
}

export function fileStore(file: string): TuningStore {
  return {
    location: file,
    async read() {
      const { fs } = await node();
      try {
        return await fs.readFile(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
    },
    async write(text) {
      const { fs, path } = await node();
      await fs.mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
      try {
        await fs.writeFile(tmp, text, 'utf8');
        await fs.rename(tmp, file);
      } catch (e) {
        await fs.rm(tmp, { force: true }).catch(() => undefined);
        throw e;
      }
    },
  };
}

export async function defaultFileStore(): Promise<TuningStore> {
  return fileStore(await tuningCachePath());
}
