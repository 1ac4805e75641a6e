/**
 * Malformed request bodies and what Apache CouchDB 3.4.3 answers to each (measured on the shared
 * node): most get a 400, a few CouchDB's own 500 (`function_clause` or, for `_security`,
 * `no_majority`) or a 200. The embedded server answers every one with a JSON 400 (pinned in
 * test/scripts/server/embedded.test.ts); on both engines none may change anything, answer HTML or a
 * stack trace, or take the server down (test/scripts/server/bad-input.test.ts).
 */
export interface BadInput {
  readonly name: string;
  /** Path under the test database, e.g. `/_bulk_docs`. */
  readonly path: string;
  readonly method: 'POST' | 'PUT';
  readonly body: string;
  readonly contentType?: string | null;
  /** CouchDB 3.4.3's status where it is not 400. */
  readonly couchdb?: 200 | 500;
}

const JSON_TYPE = 'application/json';
const deep = (n: number) => '{"selector":' + '{"a":'.repeat(n) + '1' + '}'.repeat(n) + '}';
const deepOr = (n: number) => '{"selector":{"$and":' + '[{"$or":'.repeat(n) + '[{"a":1}]' + '}]'.repeat(n) + '}}';

export const SECURITY_CASES: readonly BadInput[] = [
  { name: 'a JSON string', path: '/_security', method: 'PUT', body: '"str"', couchdb: 500 },
  { name: 'a JSON array', path: '/_security', method: 'PUT', body: '[1]', couchdb: 500 },
  { name: 'garbage', path: '/_security', method: 'PUT', body: 'garbage' },
  { name: 'an empty body', path: '/_security', method: 'PUT', body: '' },
  { name: 'null', path: '/_security', method: 'PUT', body: 'null', couchdb: 500 },
  { name: 'garbage without a content type', path: '/_security', method: 'PUT', body: 'garbage', contentType: null },
  { name: 'members not an object', path: '/_security', method: 'PUT', body: '{"members":"x"}', couchdb: 500 },
  {
    name: 'admins.names not a list',
    path: '/_security',
    method: 'PUT',
    body: '{"admins":{"names":"x"}}',
    couchdb: 500,
  },
  {
    name: 'members.names not strings',
    path: '/_security',
    method: 'PUT',
    body: '{"members":{"names":[1]}}',
    couchdb: 500,
  },
];

export const BODY_CASES: readonly BadInput[] = [
  { name: '_bulk_docs: docs an object', path: '/_bulk_docs', method: 'POST', body: '{"docs":{"a":1}}' },
  { name: '_bulk_docs: docs not objects', path: '/_bulk_docs', method: 'POST', body: '{"docs":[1,"x",null]}' },
  {
    name: '_bulk_docs: a null doc among good ones',
    path: '/_bulk_docs',
    method: 'POST',
    body: '{"docs":[{"_id":"bad-input-ok"},null]}',
  },
  {
    name: '_bulk_docs: new_edits not a boolean',
    path: '/_bulk_docs',
    method: 'POST',
    body: '{"docs":[{"_id":"bad-input-x"}],"new_edits":"x"}',
    couchdb: 500,
  },
  { name: '_bulk_docs: an array body', path: '/_bulk_docs', method: 'POST', body: '[]' },
  { name: '_bulk_docs: bad JSON', path: '/_bulk_docs', method: 'POST', body: '{bad' },
  { name: '_bulk_get: docs an object', path: '/_bulk_get', method: 'POST', body: '{"docs":{"a":1}}', couchdb: 500 },
  {
    name: '_bulk_get: docs not objects',
    path: '/_bulk_get',
    method: 'POST',
    body: '{"docs":[1,"x",null]}',
    couchdb: 200,
  },
  {
    name: '_bulk_get: an id not a string',
    path: '/_bulk_get',
    method: 'POST',
    body: '{"docs":[{"id":1}]}',
    couchdb: 500,
  },
  { name: '_bulk_get: bad JSON', path: '/_bulk_get', method: 'POST', body: '{"docs":[' },
  { name: '_all_docs: keys an object', path: '/_all_docs', method: 'POST', body: '{"keys":{"a":1}}' },
  { name: '_all_docs: keys a string', path: '/_all_docs', method: 'POST', body: '{"keys":"a"}' },
  { name: '_revs_diff: an array body', path: '/_revs_diff', method: 'POST', body: '[1]' },
  { name: '_revs_diff: revisions a string', path: '/_revs_diff', method: 'POST', body: '{"a":"x"}', couchdb: 500 },
  { name: '_revs_diff: a revision not a string', path: '/_revs_diff', method: 'POST', body: '{"a":[1]}', couchdb: 500 },
  { name: '_revs_diff: a malformed revision', path: '/_revs_diff', method: 'POST', body: '{"a":["bad"]}' },
  { name: '_find: selector an array', path: '/_find', method: 'POST', body: '{"selector":[]}' },
  { name: '_find: a string body', path: '/_find', method: 'POST', body: '"x"' },
  { name: '_find: a selector nested 2,000 deep', path: '/_find', method: 'POST', body: deep(2000), couchdb: 200 },
  { name: '_find: $and/$or nested 500 deep', path: '/_find', method: 'POST', body: deepOr(500), couchdb: 200 },
  { name: '_find: bad JSON', path: '/_find', method: 'POST', body: '{"selector":' },
  { name: 'PUT a document: an array', path: '/bad-input-doc', method: 'PUT', body: '[1,2]' },
  { name: 'PUT a document: bad JSON', path: '/bad-input-doc', method: 'PUT', body: '{"a":' },
];

export function contentTypeOf(c: BadInput): Record<string, string> {
  if (c.contentType === null) return {};
  return { 'Content-Type': c.contentType ?? JSON_TYPE };
}

/** An HTML page, a JavaScript stack frame or a file path in an answer. */
export const LEAK = /<html|<pre>|\bat \S+ \(|node_modules|\/work\/|\.js:\d+/i;
