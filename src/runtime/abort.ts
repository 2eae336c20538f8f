// AbortSignal helpers shared by the loader, the weight cache and the upload: an aborted load always
// rejects with a DOMException named 'AbortError' (what fetch does), whatever reason abort() was given.

/** The AbortError for an aborted signal; a custom reason is kept as its cause. */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error && r.name === 'AbortError') return r;
  const e = new DOMException(`the load was aborted${r === undefined ? '' : `: ${r instanceof Error ? r.message : String(r)}`}`, 'AbortError');
  if (r !== undefined) Object.defineProperty(e, 'cause', { value: r });
  return e;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

export function isAbortError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}

/** Waits `ms`, or rejects with the AbortError as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => { clearTimeout(t); reject(abortReason(signal!)); };
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
