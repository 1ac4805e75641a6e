/**
 * The key of a link (source site -> destination site) in maps of agents, stats and the page.
 * U+0000 joins the two names: a site name is letters, digits, _ . - (SITE_NAME_RE in
 * views/schema.ts), so every pair has its own key and the key splits back into the pair.
 */
export function linkKey(source: string, destination: string): string {
  return source + '\u0000' + destination;
}

/** The pair a `linkKey` was made of. */
export function linkOfKey(key: string): { source: string; destination: string } {
  const at = key.indexOf('\u0000');
  return { source: key.slice(0, at), destination: key.slice(at + 1) };
}
