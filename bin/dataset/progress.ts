// Progress of a dataset run: a bar on a TTY (cli-progress: images/s, ETA, errors, parts), plain lines
// every few seconds otherwise (logs of cluster jobs), and the final summary's numbers.
import cliProgress from 'cli-progress';

export interface ProgressState {
  images: number;
  errors: number;
  partsDone: number;
  /** Images expected, when known (file parts; tar shards are counted only as they are read). */
  imagesTotal: number | null;
  partsTotal: number;
}

export interface Progress {
  update(s: ProgressState): void;
  /** A line that must not be drawn over by the bar. */
  log(line: string): void;
  stop(): void;
}

const rate = (n: number, ms: number) => (ms > 0 ? (n * 1000) / ms : 0);

/** Inputs handled so far: embedded or failed (both count towards the total). */
const handled = (s: ProgressState) => s.images + s.errors;

export function eta(s: ProgressState, ms: number): number | null {
  if (s.imagesTotal !== null && handled(s) > 0) return ((s.imagesTotal - handled(s)) * ms) / handled(s);
  if (s.partsDone > 0) return ((s.partsTotal - s.partsDone) * ms) / s.partsDone;
  return null;
}

export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function progressLine(s: ProgressState, ms: number): string {
  const of = s.imagesTotal !== null ? ` (${handled(s)}/${s.imagesTotal} inputs)` : '';
  return `${s.images} images${of}, ${rate(s.images, ms).toFixed(2)} images/s, ${s.errors} errors, parts ${s.partsDone}/${s.partsTotal}, ETA ${formatDuration(eta(s, ms))}`;
}

export function createProgress(opts: { tty: boolean; intervalMs: number; write: (line: string) => void }): Progress {
  const start = performance.now();
  if (!opts.tty) {
    let last = start;
    return {
      update(s) {
        const t = performance.now();
        if (t - last < opts.intervalMs) return;
        last = t;
        opts.write(progressLine(s, t - start));
      },
      log: opts.write,
      stop() { /* the summary follows */ },
    };
  }
  const bar = new cliProgress.SingleBar({
    format: '{bar} {percentage}% | {value}/{total} {unit} | {rate} images/s | ETA {etaText} | {errors} errors',
    hideCursor: false, clearOnComplete: false, stream: process.stderr, fps: 5, // a killed run must not leave the cursor hidden
  }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update(s) {
      const ms = performance.now() - start;
      const byImages = s.imagesTotal !== null;
      const payload = { unit: byImages ? 'inputs' : 'parts', rate: rate(s.images, ms).toFixed(2), etaText: formatDuration(eta(s, ms)), errors: s.errors };
      const total = byImages ? s.imagesTotal! : s.partsTotal;
      const value = byImages ? handled(s) : s.partsDone;
      if (!started) {
        bar.start(total, value, payload);
        started = true;
      } else bar.update(value, payload);
    },
    log(line) {
      if (started) bar.stop();
      started = false;
      opts.write(line);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
