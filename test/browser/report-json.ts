// JSON for the reports the test pages hand to the Node side, keeping NaN and ±Infinity (plain JSON
// turns them into null, and a NaN error must read as NaN, not as 0). Browser-safe; the Puppeteer type
// is only a type.
import type { Page } from 'puppeteer-core';

/** JSON that keeps NaN/±Infinity; pair with fromReportJson. */
export function toReportJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? `__num:${v}` : v));
}

export function fromReportJson<T>(json: string): T {
  return JSON.parse(json, (_k, v) => (typeof v === 'string' && v.startsWith('__num:') ? Number(v.slice(6)) : v)) as T;
}

/** Reads window[name] from the page (Node side), NaN/±Infinity kept. */
export async function readPageReport<T>(page: Page, name: string): Promise<T> {
  // The function runs in the page, so the replacer is written out here rather than imported.
  const json = await page.evaluate((key) => JSON.stringify((window as unknown as Record<string, unknown>)[key],
    (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? `__num:${v}` : v)), name);
  return fromReportJson<T>(json);
}
