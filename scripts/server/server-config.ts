/**
 * The embedded server's config file (`<server data>/config.json`, express-pouchdb's format: one
 * object per section) and the modes of everything under its data directory.
 *
 * The server admin is written here, hashed, before the server starts, and the server refuses to
 * start without one: express-pouchdb without `[admins]` is in "admin party" (every request is an
 * admin's), so creating the admin over HTTP after the start left a window in which anyone on
 * the machine could create it first.
 *
 * Everything the server keeps is its service user's alone (directories 0700, files 0600): the
 * config holds the admin's hash, LevelDB files hold `_users` (every user's salt and derived key)
 * and all documents, and the logs hold requests. Files written before this rule (0644 under the
 * usual umask of 022) are tightened at each start.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { hashAdminPassword, isAdminHash, parseAdminHash } from './passwords';

export type ServerConfig = Record<string, Record<string, unknown>>;

export const configPath = (serverDir: string) => path.join(serverDir, 'config.json');

export function readServerConfig(file: string): ServerConfig {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as ServerConfig;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`${file} is not a readable JSON config: ${(err as Error).message}`, { cause: err });
  }
}

/** Written whole to a temporary file, then renamed over the old one, mode 0600. */
export function writeServerConfig(file: string, cfg: ServerConfig): void {
  const tmp = path.join(path.dirname(file), '.' + path.basename(file) + '.tmp');
  fs.writeFileSync(tmp, JSON.stringify(cfg, null, 2) + '\n', { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

/** A directory shared by design (sticky like /tmp, the home directory, /): never ours to lock. */
function shared(dir: string): boolean {
  const abs = path.resolve(dir);
  return (fs.statSync(abs).mode & 0o1000) !== 0 || abs === os.homedir() || abs === path.parse(abs).root;
}

/** The directory, created if missing, made 0700 (a shared one is left as it is). */
export function lockDataDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!shared(dir)) fs.chmodSync(dir, 0o700);
}

/** The directory (created if missing) and everything under it: directories 0700, files 0600. */
export function lockDown(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (shared(dir))
    throw new Error(
      `${path.resolve(dir)} is a shared directory; the embedded server needs a data directory of its own`,
    );
  const walk = (d: string) => {
    fs.chmodSync(d, 0o700);
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) fs.chmodSync(p, 0o600);
    }
  };
  walk(dir);
}

/**
 * Puts `name` into `[admins]` with `password` hashed, unless the section names it already.
 * Refuses a config whose admins are others: its admin password is not the one we hold.
 */
export async function ensureAdminInConfig(file: string, name: string, password: string): Promise<void> {
  const cfg = readServerConfig(file);
  const admins = cfg.admins || {};
  if (admins[name] !== undefined) return;
  if (Object.keys(admins).length)
    throw new Error(`${file} has server admins (${Object.keys(admins).join(', ')}) but not ${name}`);
  cfg.admins = { ...admins, [name]: await hashAdminPassword(password) };
  writeServerConfig(file, cfg);
}

/**
 * At the server's start: hashes a plain-text admin password an operator put into the file (as
 * CouchDB hashes one from its ini files) and fails unless at least one admin can sign in.
 */
export async function requireAdmin(file: string): Promise<void> {
  const cfg = readServerConfig(file);
  const admins = cfg.admins || {};
  let changed = false;
  for (const name of Object.keys(admins)) {
    if (!isAdminHash(admins[name])) {
      admins[name] = await hashAdminPassword(String(admins[name]));
      changed = true;
    }
  }
  if (changed) writeServerConfig(file, { ...cfg, admins });
  if (!Object.keys(admins).some((n) => parseAdminHash(n, admins[n]))) {
    throw new Error(
      `no server admin in ${file}: the server would serve every request as an admin; start it through the supervisor (couchstage start), which writes the admin first`,
    );
  }
}
