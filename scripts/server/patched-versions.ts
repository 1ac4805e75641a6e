/**
 * The packages the embedded server loads and patches, at the versions the patches were written
 * and measured against. Each patch (patches/*.ts) replaces an internal of one of them, and an
 * internal may change in any release; this package's package.json declares them at exact
 * versions and the lockfile pins the nested copies, but a tree installed without the lockfile
 * (`npm install` with other ranges, a hoisting change) would still load. So every patch loads its
 * package through `upstream()`, which refuses any other version, naming the package and the patch,
 * and the server checks the whole list before it serves anything.
 *
 * Each package is resolved the way its loader resolves it (`from`: the package that requires it),
 * so the version checked is the copy the patch actually changes, not a hoisted namesake. Three are
 * in the tree in two versions: abstract-leveldown (6.2.3 at the top for PouchDB's level 6, 7.2.0
 * under leveldown 6.1.1, the copy whose chained batch leveldown-cache.ts uses), and
 * pouchdb-abstract-mapreduce and pouchdb-mapreduce-utils (9.0.0 at the top, the copies of
 * pouchdb-find 9.0.0 that the view engine is built on; 7.3.1 under express-pouchdb for its own
 * pouchdb-find, which no patch touches).
 */
import * as fs from 'fs';
import * as path from 'path';

export interface PatchedPackage {
  readonly name: string;
  readonly version: string;
  /**
   * The chain of loaders, outermost first (each resolved from the previous one's folder); omitted:
   * this package itself.
   */
  readonly from?: readonly string[];
  /** Which files of scripts/server depend on it (patches, or modules that call its internals). */
  readonly patch: string;
}

export const PATCHED: readonly PatchedPackage[] = [
  { name: 'pouchdb', version: '9.0.0', patch: 'embedded.ts, patches/pouchdb-all-docs-keys.ts' },
  { name: 'leveldown', version: '6.1.1', patch: 'patches/leveldown-cache.ts' },
  { name: 'abstract-leveldown', version: '7.2.0', from: ['leveldown'], patch: 'patches/leveldown-cache.ts' },
  { name: 'pouchdb-find', version: '9.0.0', patch: 'patches/pouchdb-mapreduce-query.ts' },
  {
    name: 'pouchdb-abstract-mapreduce',
    version: '9.0.0',
    from: ['pouchdb-find'],
    patch: 'patches/pouchdb-mapreduce-query.ts, patches/pouchdb-view-cleanup.ts',
  },
  {
    name: 'pouchdb-mapreduce-utils',
    version: '9.0.0',
    from: ['pouchdb-find', 'pouchdb-abstract-mapreduce'],
    patch: 'patches/pouchdb-mapreduce-query.ts',
  },
  {
    name: 'express-pouchdb',
    version: '4.2.0',
    patch:
      'embedded.ts, authz/index.ts, patches/express-pouchdb-json-parser.ts, patches/express-pouchdb-authentication.ts, patches/express-pouchdb-db-wrappers.ts',
  },
  {
    name: 'body-parser',
    version: '1.20.9',
    from: ['express-pouchdb'],
    patch: 'patches/express-pouchdb-json-parser.ts',
  },
  { name: 'pouchdb-validation', version: '4.2.0', from: ['express-pouchdb'], patch: 'patches/pouchdb-validation.ts' },
  {
    name: 'pouchdb-security',
    version: '4.2.0',
    from: ['express-pouchdb'],
    patch: 'patches/pouchdb-security-get-security.ts',
  },
  { name: 'pouchdb-auth', version: '4.2.0', from: ['express-pouchdb'], patch: 'patches/pouchdb-auth-*.ts' },
  {
    name: 'pouchdb-bulkdocs-wrapper',
    version: '4.2.0',
    from: ['express-pouchdb', 'pouchdb-auth'],
    patch: 'patches/pouchdb-auth-write-wrappers.ts',
  },
  {
    name: 'pouchdb-plugin-error',
    version: '4.2.0',
    from: ['express-pouchdb', 'pouchdb-auth'],
    patch: 'patches/pouchdb-auth-login.ts',
  },
  {
    name: 'couchdb-calculate-session-id',
    version: '1.1.3',
    from: ['express-pouchdb', 'pouchdb-auth'],
    patch: 'patches/pouchdb-auth-login.ts',
  },
  {
    name: 'pouchdb-wrappers',
    version: '4.2.0',
    from: ['express-pouchdb'],
    patch: 'patches/express-pouchdb-db-wrappers.ts',
  },
  {
    name: 'couchdb-eval',
    version: '4.2.0',
    patch: 'patches/pouchdb-validation.ts, patches/pouchdb-validation-functions.ts',
  },
  { name: 'couchdb-objects', version: '4.2.0', patch: 'patches/pouchdb-validation.ts' },
];

export interface VersionProblem {
  readonly name: string;
  readonly expected: string;
  readonly found: string | null;
  readonly patch: string;
}

type Resolve = (id: string, opts?: { paths: string[] }) => string;

/** The folder of `name` as its loaders find it, or null when they find none. */
export function installedDir(
  name: string,
  from: readonly string[] = [],
  resolve: Resolve = require.resolve,
): string | null {
  try {
    let paths: string[] | undefined;
    for (const loader of from) paths = [path.dirname(resolve(`${loader}/package.json`, paths && { paths }))];
    return path.dirname(resolve(`${name}/package.json`, paths && { paths }));
  } catch {
    return null;
  }
}

/** The version installed where the loader finds `name`, or null when it finds none. */
export function installedVersion(
  name: string,
  from: readonly string[] = [],
  resolve: Resolve = require.resolve,
): string | null {
  const dir = installedDir(name, from, resolve);
  if (dir === null) return null;
  try {
    return (
      (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: string }).version ?? null
    );
  } catch {
    return null;
  }
}

export function checkPatchedVersions(
  list: readonly PatchedPackage[] = PATCHED,
  version: (p: PatchedPackage) => string | null = (p) => installedVersion(p.name, p.from),
): VersionProblem[] {
  const out: VersionProblem[] = [];
  for (const p of list) {
    const found = version(p);
    if (found !== p.version) out.push({ name: p.name, expected: p.version, found, patch: p.patch });
  }
  return out;
}

const describe = (p: VersionProblem) =>
  `  ${p.name}: ${p.found === null ? 'not installed' : p.found + ' found'}, ${p.expected} expected (patched by ${p.patch
    .split(', ')
    .map((f) => 'scripts/server/' + f)
    .join(', ')})`;
const remedy =
  'Install from the lockfile (npm ci), or re-measure and update the patch and scripts/server/patched-versions.ts together.';

/** Throws one error listing every mismatch; returns quietly when the tree is as the patches expect. */
export function assertPatchedVersions(
  list: readonly PatchedPackage[] = PATCHED,
  version?: (p: PatchedPackage) => string | null,
): void {
  const problems = checkPatchedVersions(list, version);
  if (!problems.length) return;
  throw new Error(
    `embedded server: the installed packages are not the versions its patches were written for:\n${problems.map(describe).join('\n')}\n${remedy}`,
  );
}

export interface Upstream {
  /** The package's folder, the copy its loader uses. */
  readonly dir: string;
  /** `require` of the package (no argument) or of a file or dependency resolved from its folder. */
  load(sub?: string): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const loaded = new Map<string, Upstream>();

/**
 * A package on the list, loaded from the copy its loader uses, after checking that copy is the
 * version the patches were written for: a patch never runs against another version.
 */
export function upstream(name: string, list: readonly PatchedPackage[] = PATCHED): Upstream {
  const hit = list === PATCHED ? loaded.get(name) : undefined;
  if (hit) return hit;
  const p = list.find((x) => x.name === name);
  if (!p)
    throw new Error(
      `embedded server: ${name} is loaded by a patch but not listed in scripts/server/patched-versions.ts`,
    );
  const found = installedVersion(p.name, p.from);
  const dir = installedDir(p.name, p.from);
  if (found !== p.version || dir === null) {
    throw new Error(
      `embedded server: ${name} is not the version its patches were written for:\n${describe({ name, expected: p.version, found, patch: p.patch })}\n${remedy}`,
    );
  }
  const u: Upstream = {
    dir,
    // Loads the resolved copy a loader uses (two versions of some packages are installed); import
    // takes no resolved path synchronously.
    load: (sub?: string) =>
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
      require(
        sub === undefined ? dir : require.resolve(sub.startsWith('lib/') ? path.join(dir, sub) : sub, { paths: [dir] }),
      ),
  };
  if (list === PATCHED) loaded.set(name, u);
  return u;
}
