/**
 * A server URL that may be a comma-separated list of one cluster's node URLs, as strings only:
 * apart from the failing-over client (nodes.ts) so that the configuration (config.ts) can split
 * and rewrite lists without loading the client, which needs the configuration for its token.
 */
/** The node URLs of `url`, in order; a single URL is a list of one. */
export function nodeUrls(url: string): string[] {
  return url
    .split(',')
    .map((u) => u.trim().replace(/\/+$/, ''))
    .filter(Boolean);
}

/** Applies `fn` to each node URL of the list and joins them again. */
export function mapNodes(url: string, fn: (node: string) => string): string {
  return nodeUrls(url).map(fn).join(',');
}

/** The list rotated to start at node `first` (agents spread their first choice over the nodes). */
export function rotateNodes(url: string, first: number): string {
  const urls = nodeUrls(url);
  const k = ((first % urls.length) + urls.length) % urls.length;
  return [...urls.slice(k), ...urls.slice(0, k)].join(',');
}
