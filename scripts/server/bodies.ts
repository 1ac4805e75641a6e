/**
 * Request bodies on the embedded server, bounded and checked as Apache CouchDB 3.4 bounds and
 * checks them, so that a malformed or oversized body gets a JSON 4xx and changes nothing.
 *
 * Measured on express-pouchdb 4.2 before this module: `{"docs":{"a":1}}` and `{"docs":[null]}` on
 * `_bulk_docs` answered an HTML page with a stack trace and the server's paths; `{"a":"x"}` on
 * `_revs_diff` threw inside PouchDB and killed the process; `PUT _security` without
 * `Content-Type: application/json` stored `{}` (the database became public) and `{"members":"x"}`
 * was stored as it came; a 400 MB `_find` was read into memory whole and the process died out of
 * memory. CouchDB parses `_security` whatever the content type, refuses a document above
 * `[couchdb] max_document_size` with 413 `document_too_large` (reason: its id) and a body above
 * `[chttpd] max_http_request_size` with 413 `too_large`.
 *
 * The checks and limits live here; patches/express-pouchdb-json-parser.ts puts them in place of
 * express-pouchdb's body parser, and embedded.ts bounds every request with boundRequest.
 */
import type * as http from 'http';

/** `[couchdb] max_document_size`, CouchDB 3.4's default (bytes of the JSON body, `_` fields left out). */
export const MAX_DOCUMENT_SIZE = 8_000_000;
/**
 * `[chttpd] max_http_request_size`. CouchDB's default is 4 GB; this server keeps a body and its
 * parsed JSON in one V8 heap (a 400 MB body killed it), so its default is 64 MiB: above the
 * largest body the product sends (a design document with the page's attachments inline, a
 * 10,000-document `_bulk_docs` of ~700-byte transfers) and far below the heap.
 */
export const MAX_HTTP_REQUEST_SIZE = 64 * 1024 * 1024;
/** Selectors nested deeper than this are refused: pouchdb-find walks them recursively. */
export const MAX_SELECTOR_DEPTH = 64;

type Json = unknown;
export type Config = {
  get(section: string, key: string): unknown;
  registerDefault(section: string, key: string, value: unknown): void;
};

export class BodyError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

export const TOO_LARGE = new BodyError(413, 'too_large', 'the request entity is too large');
export const BAD_CONTENT_TYPE = new BodyError(415, 'bad_content_type', 'Content-Type must be application/json');
/** POST routes that take other bodies: `_session` a login form, `/:db/:id` a multipart attachment form. */
export const POST_ANY_TYPE = new Set(['/_session', '/:db/:id(*)']);

export function hasBody(req: http.IncomingMessage): boolean {
  return Number(req.headers['content-length']) > 0 || req.headers['transfer-encoding'] !== undefined;
}

export function isJsonType(req: http.IncomingMessage): boolean {
  return (
    String(req.headers['content-type'] || '')
      .split(';')[0]
      .trim()
      .toLowerCase() === 'application/json'
  );
}

export function limit(cfg: Config | undefined, section: string, key: string, dflt: number): number {
  const v = Number(cfg?.get(section, key));
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

/** CouchDB's defaults in place of express-pouchdb's (which bounds every body by a 4 GB document size). */
export function registerLimits(cfg: Config): void {
  cfg.registerDefault('couchdb', 'max_document_size', MAX_DOCUMENT_SIZE);
  cfg.registerDefault('chttpd', 'max_http_request_size', MAX_HTTP_REQUEST_SIZE);
}

export function maxRequestSize(cfg?: Config): number {
  return limit(cfg, 'chttpd', 'max_http_request_size', MAX_HTTP_REQUEST_SIZE);
}

/** Answers with a JSON error; anything the routes still try to send afterwards is dropped. */
export function refuse(res: http.ServerResponse, err: BodyError): void {
  if (!res.headersSent) {
    const body = JSON.stringify({ error: err.error, reason: err.reason }) + '\n';
    res.writeHead(err.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
  const r = res as unknown as Record<string, unknown>;
  r.setHeader = () => res;
  r.writeHead = () => res;
  r.write = () => true;
  r.end = () => res;
}

/**
 * After a refusal the rest of the body is read and dropped, not the connection cut: a client still
 * sending would get a reset instead of the answer (its kernel discards what it has not read yet).
 * Dropped bytes cost no memory; a client still sending 10 s later is cut off.
 */
function drain(req: http.IncomingMessage): void {
  const cut = setTimeout(() => req.socket.destroy(), 10_000);
  const done = () => clearTimeout(cut);
  req.once('end', done);
  req.socket.once('close', done);
}

/**
 * Bounds the bytes of one request's body as they arrive: a declared `Content-Length` above the
 * limit is refused before a byte is parsed, and a chunked body as soon as it passes the limit,
 * whatever route would read it (JSON, attachments, `_config`, show/list/update). Returns false if
 * the request has been answered (and is not to be routed).
 */
export function boundRequest(req: http.IncomingMessage, res: http.ServerResponse, max: number): boolean {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    refuse(res, TOO_LARGE);
    drain(req);
    req.resume();
    return false;
  }
  let seen = 0;
  const push = req.push;
  req.push = function (this: http.IncomingMessage, chunk: unknown, enc?: BufferEncoding): boolean {
    if (chunk !== null && chunk !== undefined) {
      seen += (chunk as Buffer).length;
      if (seen > max) {
        // From here on every byte is dropped; the end of the body still ends the request.
        req.push = (c: unknown, e?: BufferEncoding) => (c === null || c === undefined ? push.call(req, c, e) : true);
        refuse(res, TOO_LARGE);
        drain(req);
        return true;
      }
    }
    return push.call(this, chunk, enc);
  };
  return true;
}

const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const bad = (reason: string) => new BodyError(400, 'bad_request', reason);

/** CouchDB's measure of a document's size: its JSON without the `_` members. */
function documentSize(doc: Record<string, Json>): number {
  const body: Record<string, Json> = {};
  for (const k of Object.keys(doc)) if (k.charAt(0) !== '_') body[k] = doc[k];
  return Buffer.byteLength(JSON.stringify(body));
}

function checkDocument(doc: Json, maxDoc: number, big: boolean): void {
  if (!isObject(doc)) throw bad('Document must be a JSON object');
  if (big && documentSize(doc) > maxDoc)
    throw new BodyError(413, 'document_too_large', typeof doc._id === 'string' ? doc._id : '');
}

function depth(v: Json, max: number, d = 0): number {
  if (d > max || typeof v !== 'object' || v === null) return d;
  let deepest = d;
  for (const x of Array.isArray(v) ? v : Object.values(v)) {
    deepest = Math.max(deepest, depth(x, max, d + 1));
    if (deepest > max) break;
  }
  return deepest;
}

function checkSecurity(body: Json): void {
  if (!isObject(body)) throw bad('Security object must be a JSON object');
  for (const section of ['admins', 'members']) {
    const s = body[section];
    if (s === undefined) continue;
    if (!isObject(s)) throw bad(`${section} must be a JSON object`);
    for (const key of ['names', 'roles']) {
      const list = s[key];
      if (list !== undefined && !(Array.isArray(list) && list.every((x) => typeof x === 'string')))
        throw bad(`${section}.${key} must be an array of strings`);
    }
  }
}

const REV = /^[0-9]+-[0-9a-zA-Z]+$/;

/**
 * The shape checks per route (express-pouchdb's route patterns), run on the parsed body before the
 * route sees it. `big`: the body may hold a document above the size limit (it is larger itself).
 */
export function checkBody(method: string, route: string, body: Json, maxDoc: number, big: boolean): void {
  switch (`${method} ${route}`) {
    case 'PUT /:db/_security':
      return checkSecurity(body);
    case 'PUT /:db/:id(*)':
    case 'POST /:db':
      return checkDocument(body, maxDoc, big);
    case 'POST /:db/_bulk_docs': {
      if (!isObject(body)) throw bad('Request body must be a JSON object');
      if (body.docs === undefined) throw bad("Missing JSON list of 'docs'");
      if (!Array.isArray(body.docs)) throw bad('`docs` parameter must be an array.');
      if (body.new_edits !== undefined && typeof body.new_edits !== 'boolean')
        throw bad('`new_edits` parameter must be a boolean.');
      for (const doc of body.docs) checkDocument(doc, maxDoc, big);
      return;
    }
    case 'POST /:db/_bulk_get': {
      if (!isObject(body)) throw bad('Request body must be a JSON object');
      if (body.docs === undefined) throw bad("Missing JSON list of 'docs'.");
      if (!Array.isArray(body.docs)) throw bad('`docs` parameter must be an array.');
      for (const d of body.docs) {
        if (!isObject(d)) throw bad('document must be a JSON object');
        if (typeof d.id !== 'string') throw bad('document id must be a string');
        if (d.rev !== undefined && typeof d.rev !== 'string') throw bad('rev must be a string');
        if (
          d.atts_since !== undefined &&
          !(Array.isArray(d.atts_since) && d.atts_since.every((r) => typeof r === 'string'))
        )
          throw bad('atts_since must be an array of revisions');
      }
      return;
    }
    case 'POST /:db/_revs_diff': {
      if (!isObject(body)) throw bad('Request body must be a JSON object');
      for (const revs of Object.values(body)) {
        if (!Array.isArray(revs)) throw bad('Each document id must map to an array of revisions');
        if (!revs.every((r) => typeof r === 'string' && REV.test(r))) throw bad('Invalid rev format');
      }
      return;
    }
    case 'POST /:db/_find':
    case 'POST /:db/_explain': {
      if (!isObject(body)) throw bad('Request body must be a JSON object');
      if (body.selector !== undefined && !isObject(body.selector))
        throw new BodyError(400, 'invalid_selector_json', 'Selector must be a JSON object');
      if (depth(body, MAX_SELECTOR_DEPTH) > MAX_SELECTOR_DEPTH)
        throw bad(`the query is nested deeper than ${MAX_SELECTOR_DEPTH} levels`);
      return;
    }
    case 'POST /:db/_index':
      if (!isObject(body)) throw bad('Request body must be a JSON object');
      if (depth(body, MAX_SELECTOR_DEPTH) > MAX_SELECTOR_DEPTH)
        throw bad(`the index is nested deeper than ${MAX_SELECTOR_DEPTH} levels`);
      return;
  }
  if (route === '/:db/_all_docs' && isObject(body) && body.keys !== undefined && !Array.isArray(body.keys))
    throw bad('`keys` body member must be an array.');
}

/**
 * express error handler for whatever a route throws: a JSON error without the stack trace and
 * paths that express's default handler prints.
 */
export function jsonErrors(err: unknown, _req: unknown, res: http.ServerResponse, _next: unknown): void {
  const e = err as { status?: number; statusCode?: number; message?: string };
  const status = Number(e?.status || e?.statusCode) || 500;
  refuse(
    res,
    status >= 400 && status < 500
      ? bad(String(e?.message || 'bad request').split('\n')[0])
      : new BodyError(500, 'unknown_error', 'internal error'),
  );
}
