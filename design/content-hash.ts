/**
 * A design document's content hash as the server holds it, computed the same way for what this
 * code builds (attachments inline) and for what a server returns with `?attachments=true`. The
 * version stamp (`couchstage`) is stored in the document itself, so a document changed by hand,
 * or through a hole in a server's authorisation, can keep a stamp that matches: only the content
 * tells. Compared: every field but `_rev` (and the other `_` metadata a server adds) and the
 * stamp; attachments by name, content type and the SHA-256 of their bytes. Not the stubs'
 * `digest`: CouchDB digests the gzip-compressed bytes of compressible types (measured: text/html
 * and application/javascript differ from the md5 of the data; image/png equals it), PouchDB the
 * plain bytes.
 */
import { createHash } from 'crypto';

type Json = unknown;

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** JSON with every object's keys sorted: the servers return a document's keys in their own order. */
export function canonicalJson(v: Json): string {
  if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']';
  if (v && typeof v === 'object') {
    const o = v as Record<string, Json>;
    return (
      '{' +
      Object.keys(o)
        .sort()
        .filter((k) => o[k] !== undefined)
        .map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k]))
        .join(',') +
      '}'
    );
  }
  return JSON.stringify(v);
}

interface AttachmentLike {
  content_type?: string;
  data?: string;
  digest?: string;
  stub?: boolean;
}

export function designContentHash(doc: Record<string, unknown>): string {
  const body: Record<string, Json> = {};
  for (const k of Object.keys(doc)) {
    if (k === 'couchstage' || (k.startsWith('_') && k !== '_id')) continue;
    body[k] = doc[k];
  }
  const atts = (doc._attachments || {}) as Record<string, AttachmentLike>;
  // A stub (fetched without attachments=true) cannot be compared with bytes: it never matches.
  const attachments = Object.keys(atts)
    .sort()
    .map((n) => [
      n,
      atts[n].content_type || null,
      typeof atts[n].data === 'string'
        ? sha256(Buffer.from(atts[n].data as string, 'base64'))
        : 'stub ' + String(atts[n].digest),
    ]);
  return sha256(canonicalJson({ doc: body, attachments }));
}

/** True when the live document is what `built` would deploy: stamp and content. */
export function designIsCurrent(live: object | null, built: { doc: Record<string, unknown>; hash: string }): boolean {
  if (!live) return false;
  // Read as any JSON: the live document is what the server holds, whatever its type says.
  const fields = live as Record<string, unknown>;
  const stamp = fields.couchstage as { hash?: string } | undefined;
  return stamp?.hash === built.hash && designContentHash(fields) === designContentHash(built.doc);
}
