// Types for scripts/apt-sources.mjs (plain JS: setup runs before npm packages exist).
export interface AptSource { file: string; types: string[]; uris: string[]; suites: string[]; components: string[]; signedBy?: string }
export interface OsRelease { id: string; idLike: string[]; codename: string }
export type LavapipePlan =
  | { ok: true; suite?: string; source?: { path: string; text: string }; install: string[] }
  | { ok: false; why: string };
export function parseOneLine(text: string, file: string): AptSource[];
export function parseDeb822(text: string, file: string): AptSource[];
export function readAptSources(aptDir: string): AptSource[];
export function parseOsRelease(text: string): OsRelease;
export function lavapipePlan(os: OsRelease, sources: AptSource[], aptDir: string): LavapipePlan;
