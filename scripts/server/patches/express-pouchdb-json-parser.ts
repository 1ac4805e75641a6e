/**
 * Patch record.
 * Package: express-pouchdb 4.2.0, with its body-parser 1.20.9.
 * Function: `lib/utils` `jsonParser`, the JSON body parser every route takes by reference.
 * Justified by correctness and safety, not speed (measured on express-pouchdb 4.2: `_bulk_docs`
 * with `{"docs":{"a":1}}` answered an HTML stack trace, `_revs_diff` with `{"a":"x"}` killed the
 * process, `PUT _security` without `Content-Type: application/json` stored `{}`, a 400 MB `_find`
 * ran the process out of memory; bodies.ts); CouchDB bounds and checks bodies itself.
 * Goes when: express-pouchdb answers malformed bodies with a JSON 400 and bounds bodies while they
 * stream.
 */
import type * as http from 'http';
import {
  BAD_CONTENT_TYPE,
  BodyError,
  MAX_DOCUMENT_SIZE,
  POST_ANY_TYPE,
  TOO_LARGE,
  bad,
  checkBody,
  hasBody,
  isJsonType,
  limit,
  maxRequestSize,
  refuse,
  type Config,
} from '../bodies';
import { upstream } from '../patched-versions';

type Req = http.IncomingMessage & { body?: unknown; route?: { path?: string }; app?: { couchConfig?: Config } };

/**
 * Replaces express-pouchdb's JSON body parser (before its routes are registered, which take it by
 * reference): the body is bounded by `max_http_request_size` rather than by `max_document_size`
 * (CouchDB bounds each document, not a whole `_bulk_docs`, by the latter), PUT bodies (documents,
 * `_security`) are parsed whatever their content type and other POSTs need application/json (as
 * CouchDB does), and the body is checked by checkBody.
 */
export function installBodyChecks(): void {
  const utils = upstream('express-pouchdb').load('lib/utils');
  const bodyParser = upstream('body-parser').load();
  const parsers = new Map<string, (req: unknown, res: unknown, next: (err?: unknown) => void) => void>();
  const parserFor = (max: number, anyType: boolean) => {
    const key = `${max} ${anyType}`;
    let p = parsers.get(key);
    const verify = (r: { rawLength?: number }, _res: unknown, buf: Buffer) => {
      r.rawLength = buf.length;
    };
    if (!p) parsers.set(key, (p = bodyParser.json({ limit: max, verify, ...(anyType ? { type: () => true } : {}) })));
    return p!;
  };
  utils.jsonParser = function (req: Req, res: http.ServerResponse, next: () => void): void {
    const cfg = req.app?.couchConfig;
    const max = maxRequestSize(cfg);
    const route = req.route?.path || '';
    const method = req.method || 'GET';
    // As CouchDB 3.4.3 answers (measured): a POST with a JSON body and another content type is
    // refused with 415 bad_content_type, while a PUT body is parsed as JSON whatever its type.
    // express-pouchdb parsed neither, so a job's `curl -X PUT -d @doc.json` (form-encoded by
    // curl) reached validation as an empty document and was refused for its type.
    if (method === 'POST' && hasBody(req) && !isJsonType(req) && !POST_ANY_TYPE.has(route))
      return refuse(res, BAD_CONTENT_TYPE);
    parserFor(max, method === 'PUT')(req, res, (err?: unknown) => {
      const e = err as { status?: number } | undefined;
      if (e) return refuse(res, e.status === 413 ? TOO_LARGE : bad('invalid_json'));
      if (method === 'PUT' && route === '/:db/_security' && !((req as { rawLength?: number }).rawLength! > 0))
        return refuse(res, bad('Security object must be a JSON object'));
      const maxDoc = limit(cfg, 'couchdb', 'max_document_size', MAX_DOCUMENT_SIZE);
      const length = Number(req.headers['content-length']);
      try {
        checkBody(method, route, req.body, maxDoc, !Number.isFinite(length) || length > maxDoc);
      } catch (x) {
        if (x instanceof BodyError) return refuse(res, x);
        throw x;
      }
      next();
    });
  };
}
