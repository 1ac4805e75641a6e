/**
 * @couchstage/embedded-server: a CouchDB-compatible server (express-pouchdb over PouchDB and
 * LevelDB, with the patches in patches/) for one machine, run as a supervised child process.
 *
 * The public entry. A caller builds main.ts as the child's script, starts it with a Supervisor
 * (settings as options, nothing read from the environment), and finds the admin's credentials in
 * the state file. Nothing here loads express-pouchdb or PouchDB: that happens in the child only.
 */
export { Supervisor, ServerStartError, settingsArgs, type SupervisorOptions } from './supervisor';
export { ensureEmbeddedAdmin, prepareEmbeddedAdmin, type AdminOptions } from './admin';
export { readState, statePath, type EmbeddedState } from './state';
export type { EmbeddedSettings } from './embedded';
export { WWW_AUTHENTICATE, challengeFor } from './challenge';
export { ddocRequire } from './ddoc-require';
