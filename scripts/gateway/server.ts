/**
 * The TLS gateway: HTTPS in front of the CouchDB-compatible server, for clients that hold a
 * certificate instead of a password (grid jobs, agents on worker nodes). A request with a
 * client certificate is verified (verify.ts) against the CA directory (ca-dir.ts), its subject
 * mapped to a user (dn-map.ts), and forwarded with CouchDB proxy authentication: the headers
 * `X-Auth-CouchDB-UserName`/`-Roles` and the HMAC `X-Auth-CouchDB-Token` made with the secret the
 * gateway shares with the server alone. Any `X-Auth-CouchDB-*` header a client sends is dropped
 * first, so nobody can name himself; with a certificate, `Authorization` and `Cookie` are dropped
 * too, so the identity is the certificate's. A refused certificate gets a 401 (403 for a subject
 * not in the map) whose reason names the failed check, and nothing is forwarded.
 *
 * A request without a certificate is forwarded as it came (minus those headers): passwords,
 * session cookies and tokens then still work through the gateway, checked by the server as ever.
 */
import { constants } from 'crypto';
import * as http from 'http';
import * as https from 'https';
import type { Duplex } from 'stream';
import type { TLSSocket } from 'tls';
import { proxyTokens } from '../server/authz/proxy';
import { readCaDir, watchCaDir, type CaSet } from './ca-dir';
import { readDnMap, type DnMap } from './dn-map';
import { Verifier, type Verdict } from './verify';

/** A client's connection, with what the gateway learnt about it. */
type Connection = TLSSocket & { couchstageGen?: number; couchstageVerdict?: { gen: number; v: Verdict | null } };

export interface GatewayOptions {
  /** The server to forward to, without credentials (http://127.0.0.1:5984). */
  readonly upstream: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** PEM of the gateway's own certificate and key. */
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly caDir: string;
  readonly mapFile: string;
  readonly secret: string;
  readonly log?: (line: string) => void;
}

export interface Gateway {
  readonly url: string;
  /** Reads the CA directory and the map again (also done on SIGHUP and when the directory changes). */
  reload(): void;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, error: string, reason: string): void {
  const body = JSON.stringify({ error, reason }) + '\n';
  // A refused client's connection is not kept: see the clientError handler below.
  const close = status === 401 || status === 403 ? { Connection: 'close' } : {};
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...close });
  res.end(body);
}

/** Marks a connection that has its refusal, so that a later socket error adds no second one. */
type Answered = { couchstageAnswered?: boolean };

const certificateRefusal = (check: string, reason: string) => `client certificate refused: ${reason} (${check})`;

/** A 401 written straight on the socket, for a connection the HTTP server gave up on. */
function rawRefusal(socket: Duplex, reason: string): void {
  const body = JSON.stringify({ error: 'unauthorized', reason }) + '\n';
  socket.end(
    `HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

/** The request's headers for the server: hop-by-hop and identity headers removed. */
function forwardHeaders(req: http.IncomingMessage, identity: boolean): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.startsWith('x-auth-couchdb-') || k === 'connection' || k === 'keep-alive' || k === 'host') continue;
    if (identity && (k === 'authorization' || k === 'cookie')) continue;
    out[k] = v;
  }
  return out;
}

/**
 * What the gateway trusts: the CA directory and the DN map as last read, and each connection's
 * verdict, valid for one generation of the CA directory (bumped when it is read again, so that
 * connections made before are verified afresh at their next request).
 */
class Trust {
  cas: CaSet;
  map: DnMap;
  generation = 0;
  readonly verifier = new Verifier(() => ({ dir: this.cas.dir, crls: this.cas.crl.length > 0 }));

  constructor(
    private readonly opts: GatewayOptions,
    private readonly log: (line: string) => void,
  ) {
    this.cas = readCaDir(opts.caDir);
    this.map = readDnMap(opts.mapFile);
  }

  tlsOptions() {
    return {
      cert: this.opts.cert,
      key: this.opts.key,
      ca: this.cas.ca,
      ...(this.cas.crl.length ? { crl: this.cas.crl } : {}),
      // No session resumption: a resumed session has no certificate chain (OpenSSL keeps only the
      // leaf in it, so a proxy's chain could not be verified: measured with undici, which resumes)
      // and skips the CRL. Clients keep their connections open, so full handshakes stay few.
      secureOptions: constants.SSL_OP_NO_TICKET,
    };
  }

  /** Takes a CA directory just read. */
  apply(next: CaSet): void {
    this.cas = next;
    this.generation++;
    this.verifier.clear();
    this.log(`gateway: CA directory ${next.dir} read: ${next.ca.length} CA(s), ${next.crl.length} CRL(s)`);
  }

  reloadMap(): void {
    try {
      this.map = readDnMap(this.opts.mapFile);
    } catch (err) {
      this.log(`gateway: ${(err as Error).message}; keeping the previous map`);
    }
  }

  /** A connection's verdict, kept on it: its certificate does not change while it lasts. */
  async verdictOf(sock: Connection): Promise<Verdict | null> {
    sock.couchstageGen ??= this.generation;
    const kept = sock.couchstageVerdict;
    if (kept && kept.gen === this.generation) return kept.v;
    const gen = this.generation;
    const v = await this.verifier.verify(sock, kept !== undefined || sock.couchstageGen !== gen);
    sock.couchstageVerdict = { gen, v };
    return v;
  }
}

/**
 * The headers to forward with, the proxy headers added for a mapped certificate; null when the
 * request was refused here (401 for a certificate that failed, 403 for an unmapped subject).
 */
async function identify(
  trust: Trust,
  secret: string,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<http.OutgoingHttpHeaders | null> {
  const verdict = await trust.verdictOf(req.socket as Connection);
  const headers = forwardHeaders(req, verdict !== null);
  if (!verdict) return headers;
  if (!verdict.ok) {
    req.resume();
    (req.socket as Answered).couchstageAnswered = true;
    send(res, 401, 'unauthorized', certificateRefusal(verdict.check, verdict.reason));
    return null;
  }
  const user = trust.map.get(verdict.dn);
  if (!user) {
    req.resume();
    send(res, 403, 'forbidden', `client certificate subject ${verdict.dn} is not mapped to a user`);
    return null;
  }
  headers['x-auth-couchdb-username'] = user.name;
  headers['x-auth-couchdb-roles'] = user.roles.join(',');
  headers['x-auth-couchdb-token'] = proxyTokens(secret, user.name)[0];
  return headers;
}

/** The request to the server, its answer streamed back (longpoll feeds included). */
function forward(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  headers: http.OutgoingHttpHeaders,
  up: URL,
  agent: http.Agent,
): void {
  headers.host = up.host;
  const { hostname, port, protocol } = up;
  const fwd = http.request(
    { protocol, hostname, port, method: req.method, path: req.url, headers, agent },
    (answer) => {
      res.writeHead(answer.statusCode || 502, answer.headers);
      answer.pipe(res);
    },
  );
  fwd.on('error', (err) => {
    if (!res.headersSent) send(res, 502, 'bad_gateway', `server ${up.host}: ${err.message}`);
    else res.destroy();
  });
  res.on('close', () => fwd.destroy());
  req.pipe(fwd);
}

/*
 * A connection whose client certificate failed verification can fail its next read: Node 20
 * leaves OpenSSL's error of the failed check (measured: "RSA_padding_check_PKCS1_type_1:invalid
 * padding" for a certificate from a look-alike CA) on the error queue, and the first read of the
 * request then reports it as a socket error, on which the HTTP server resets the connection.
 * Such a client gets its 401 with the failed check here, on the socket, and the connection ends.
 */
function onClientError(verifier: Verifier): (err: Error, socket: Duplex) => void {
  return (_err, socket) => {
    const tls = socket as TLSSocket;
    if (!tls.authorizationError || (socket as Answered).couchstageAnswered || !socket.writable) {
      socket.destroy();
      return;
    }
    (socket as Answered).couchstageAnswered = true;
    verifier
      .verify(tls)
      .then((v) =>
        rawRefusal(socket, v && !v.ok ? certificateRefusal(v.check, v.reason) : 'client certificate refused'),
      )
      .catch(() => socket.destroy());
  };
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const log = opts.log || (() => undefined);
  const up = new URL(opts.upstream);
  if (up.protocol !== 'http:') throw new Error(`gateway upstream ${opts.upstream}: must be http:// on loopback`);
  const trust = new Trust(opts, log);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const headers = await identify(trust, opts.secret, req, res);
    if (headers) forward(req, res, headers, up, agent);
  };
  const server = https.createServer(
    { ...trust.tlsOptions(), requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      handle(req, res).catch((err: Error) => send(res, 500, 'error', err.message));
    },
  );
  server.on('clientError', onClientError(trust.verifier));
  // Longpoll feeds hold requests for up to a minute, as on the server itself.
  server.requestTimeout = 0;
  server.headersTimeout = 65_000;
  server.keepAliveTimeout = 65_000;

  const apply = (next: CaSet) => {
    trust.apply(next);
    server.setSecureContext(trust.tlsOptions());
  };
  const reloadMap = () => trust.reloadMap();
  const onError = (err: Error) => log(`gateway: ${err.message}; keeping the previous CA directory`);
  const stopWatching = watchCaDir(opts.caDir, apply, onError);
  process.on('SIGHUP', reloadMap);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host || '127.0.0.1', () => resolve());
  });
  const url = `https://${opts.host || '127.0.0.1'}:${(server.address() as { port: number }).port}`;
  const { cas, map } = trust;
  log(
    `gateway: ${url} -> ${up.origin}, ${cas.ca.length} CA(s), ${cas.crl.length} CRL(s), ${map.size} mapped subject(s)`,
  );
  return {
    url,
    reload() {
      try {
        apply(readCaDir(opts.caDir));
      } catch (err) {
        onError(err as Error);
      }
      reloadMap();
    },
    close: () =>
      new Promise<void>((resolve) => {
        stopWatching();
        process.off('SIGHUP', reloadMap);
        agent.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
