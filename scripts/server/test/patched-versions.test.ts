/**
 * The embedded server's patches replace internals of exact package versions
 * (patched-versions.ts): the installed tree must be those versions, every package a patch loads
 * must be on the list and declared at its exact version, and any other version stops the server
 * before it serves, and a patch before it loads.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PATCHED, assertPatchedVersions, checkPatchedVersions, installedVersion, upstream } from '../patched-versions';
import { builtinModules } from 'module';

const SERVER = path.join(__dirname, '..');

/**
 * Every package (an npm name: lowercase or scoped) a file of the server loads by name
 * (`upstream('x')`, `require('x')`, `require.resolve('x/...')`), its tests left out.
 */
function loadedPackages(): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'test' && e.name !== 'node_modules') walk(file);
      } else if (file.endsWith('.ts')) {
        const src = fs.readFileSync(file, 'utf8');
        for (const m of src.matchAll(/(?:require(?:\.resolve)?|upstream)\(\s*['"]([a-z@][^'"]*)['"]/g)) {
          const spec = m[1];
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
          if (!builtinModules.includes(name) && !name.startsWith('node:')) out.add(name);
        }
      }
    }
  };
  walk(SERVER);
  return out;
}

describe('packages the embedded server patches', () => {
  it('are installed at the versions the patches were written for', () => {
    expect(checkPatchedVersions()).toEqual([]);
  });

  it('list every package a patch loads', () => {
    const listed = new Set(PATCHED.map((p) => p.name));
    const loaded = [...loadedPackages()];
    expect(loaded.length).toBeGreaterThan(5);
    expect(loaded.filter((n) => !listed.has(n))).toEqual([]);
  });

  it('are declared in the server package.json at exact versions, or pinned under their loader by the root overrides', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(SERVER, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const root = JSON.parse(fs.readFileSync(path.join(SERVER, '../../package.json'), 'utf8')) as {
      overrides?: Record<string, Record<string, string> | string>;
    };
    const pinned = (p: (typeof PATCHED)[number]) => {
      if (pkg.dependencies[p.name] === p.version) return true;
      // A copy in two versions in the tree: the one the patch uses is pinned under its loader.
      const loader = p.from && PATCHED.find((x) => x.name === p.from![p.from!.length - 1]);
      const under = loader && root.overrides?.[`${loader.name}@${loader.version}`];
      return typeof under === 'object' && under[p.name] === p.version;
    };
    expect(PATCHED.filter((p) => !pinned(p)).map((p) => `${p.name}@${pkg.dependencies[p.name]}`)).toEqual([]);
    // Nothing declared that no patch loads, and no range anywhere.
    expect(Object.keys(pkg.dependencies).filter((n) => !PATCHED.some((p) => p.name === n))).toEqual([]);
    expect(Object.values(pkg.dependencies).filter((v) => !/^\d+\.\d+\.\d+$/.test(v))).toEqual([]);
  });

  it('are loaded by a patch only at the version it was written for', () => {
    expect(upstream('leveldown').dir).toBe(path.dirname(require.resolve('leveldown/package.json')));
    expect(() => upstream('no-such-package-couchstage')).toThrow(/not listed in scripts\/server\/patched-versions\.ts/);
    const other = [{ name: 'leveldown', version: '6.0.0', patch: 'patches/leveldown-cache.ts' }];
    expect(() => upstream('leveldown', other)).toThrow(
      /leveldown: 6\.1\.1 found, 6\.0\.0 expected \(patched by scripts\/server\/patches\/leveldown-cache\.ts\)/,
    );
    const nested = [
      { name: 'abstract-leveldown', version: '6.2.3', from: ['leveldown'], patch: 'patches/leveldown-cache.ts' },
    ];
    expect(() => upstream('abstract-leveldown', nested)).toThrow(/abstract-leveldown: 7\.2\.0 found, 6\.2\.3 expected/);
  });

  it('are resolved the way their loader resolves them, not as a hoisted namesake', () => {
    // leveldown loads its own abstract-leveldown; the one at the top of the tree is older.
    const nested = installedVersion('abstract-leveldown', ['leveldown']);
    expect(nested).toBe(PATCHED.find((p) => p.name === 'abstract-leveldown')!.version);
    expect(installedVersion('no-such-package-couchstage')).toBeNull();
    expect(installedVersion('pouchdb-mapreduce-utils', ['pouchdb-find', 'pouchdb-abstract-mapreduce'])).toBe('9.0.0');
  });

  it('stop the server with one error naming each package that differs', () => {
    const fake = (p: { name: string; version: string }) =>
      p.name === 'leveldown' ? '6.2.0' : p.name === 'pouchdb-auth' ? null : p.version;
    expect(() => assertPatchedVersions(PATCHED, fake)).toThrow(
      /leveldown: 6\.2\.0 found, 6\.1\.1 expected \(patched by scripts\/server\/patches\/leveldown-cache\.ts\)/,
    );
    expect(() => assertPatchedVersions(PATCHED, fake)).toThrow(/pouchdb-auth: not installed, 4\.2\.0 expected/);
    expect(() => assertPatchedVersions(PATCHED, (p) => p.version)).not.toThrow();
  });
});
