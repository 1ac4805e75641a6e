/**
 * The constants the schema module shares: every view constant names a view that exists in the
 * design sources, and no code outside the schema names a view, the read-only design document or
 * the heartbeat interval by its bare value.
 */
import * as fs from 'fs';
import * as path from 'path';
import { HEARTBEAT_MS, HEARTBEAT_STALE_MS, MISSED_BEATS, READONLY_DDOC_ID, Views } from '../../../views/schema';

const ROOT = path.resolve(__dirname, '..', '..', '..');

function sources(dirs: readonly string[]): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push({ file: path.relative(ROOT, p), text: fs.readFileSync(p, 'utf8') });
    }
  };
  for (const d of dirs) walk(path.join(ROOT, d));
  return out;
}

describe('shared constants', () => {
  it.each(Object.entries(Views))('view %s exists in the design sources', (_key, ref) => {
    const dbs = fs
      .readdirSync(path.join(ROOT, 'views'))
      .filter((d) => fs.existsSync(path.join(ROOT, 'views', d, ref.ddoc, ref.name)));
    expect(dbs).toHaveLength(1);
    expect(fs.readdirSync(path.join(ROOT, 'views', dbs[0], ref.ddoc, ref.name))).toContain('map.ts');
  });

  it('heartbeats: every 30 s, an instance silent for 90 s is dead', () => {
    expect(HEARTBEAT_MS).toBe(30_000);
    expect(MISSED_BEATS * HEARTBEAT_MS).toBe(HEARTBEAT_STALE_MS);
    expect(HEARTBEAT_STALE_MS).toBe(90_000);
  });

  it('no product code outside the schema spells them out', () => {
    const bare = [
      /\.view\('[a-z]+', '[a-z_]+'/, // db.view('monitor', 'by_user')
      /\bview(<[^>]*>)?\('[a-z_]+'/, // the page's view('overview')
      /'_design\/readonly'/,
      /\/_design\/readonly`/,
      /\b30_000\b.*heartbeat|heartbeat.*\b30_000\b/i,
    ];
    const found = sources(['agents', 'scripts', 'app', 'design', 'views'])
      .filter(
        (s) =>
          !s.file.startsWith(path.join('views', 'schema') + path.sep) &&
          !s.file.startsWith(path.join('scripts', 'server')),
      )
      .flatMap((s) => s.text.split('\n').map((l, i) => ({ l, where: `${s.file}:${i + 1}` })))
      .filter(({ l }) => !/^\s*(\*|\/\/)/.test(l) && bare.some((re) => re.test(l)))
      .map(({ where, l }) => `${where}: ${l.trim()}`);
    expect(found).toEqual([]);
    expect(READONLY_DDOC_ID).toBe('_design/readonly');
  });
});
