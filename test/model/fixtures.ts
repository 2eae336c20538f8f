// The parity fixtures on disk (Node only): the single list the Node parity tests run and the browser
// parity test hands to its page, so both cover exactly the folders that exist.
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIXTURE_ROOTS, type FixtureKind, type FixtureSource } from './parity-core.js';

/** Fixture folder names of one kind, sorted: every subfolder that holds an expected.safetensors. */
export function listFixtures(kind: FixtureKind): string[] {
  const root = FIXTURE_ROOTS[kind];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'expected.safetensors')))
    .map((d) => d.name)
    .sort();
}

/** A fixture folder on disk, as the parity comparison reads it (the browser page serves it by URL instead). */
export function diskFixture(kind: FixtureKind, name: string): FixtureSource {
  const dir = join(FIXTURE_ROOTS[kind], name);
  return { kind, name, checkpoint: dir, read: (f) => readFile(join(dir, f)) };
}
