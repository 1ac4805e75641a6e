import type * as http from 'http';

/**
 * The challenge sent with every 401, as CouchDB 3 does with `[chttpd] WWW-Authenticate` set: a
 * browser opening the monitoring page without a session then asks for a name and password
 * instead of showing a bare 401. A request header `X-CouchDB-WWW-Authenticate` replaces it (also
 * as CouchDB does): the page's own requests send `Cookie`, which no browser prompts for, so an
 * expired session shows the page's login form rather than a dialog.
 */
export const WWW_AUTHENTICATE = 'Basic realm="couchstage"';

export function challengeFor(req: http.IncomingMessage): string {
  const asked = req.headers['x-couchdb-www-authenticate'];
  return typeof asked === 'string' && asked ? asked : WWW_AUTHENTICATE;
}

/** Adds the challenge to 401 answers that lack one (express-pouchdb sends none). */
export function addChallenge(req: http.IncomingMessage, res: http.ServerResponse): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
    const code = typeof args[0] === 'number' ? args[0] : this.statusCode;
    if (code === 401 && !this.getHeader('www-authenticate')) {
      const headers = args.find((a, i) => i > 0 && a && typeof a === 'object') as Record<string, unknown> | undefined;
      const has = headers && Object.keys(headers).some((k) => k.toLowerCase() === 'www-authenticate');
      if (!has) this.setHeader('WWW-Authenticate', challengeFor(req));
    }
    return (writeHead as (...a: unknown[]) => http.ServerResponse).apply(this, args);
  } as typeof res.writeHead;
}
