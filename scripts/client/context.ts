/** What every command needs: config, the server URL as the acting user, and the databases. */
import { loadConfig, serverUrl, withCredentials, type Config } from '../../agents/platform/config';
import { connect, type Server } from '../../agents/platform/couch';
import { flag, type Args } from './args';
import { boundAnswers } from './connection';

export interface Context {
  readonly cfg: Config;
  readonly url: string;
  readonly server: Server;
  readonly json: boolean;
  readonly out: (line: string) => void;
}

export function context(args: Args, out: (line: string) => void): Context {
  // A command waits a bounded time for each answer (connection.ts): a server that never answers
  // is reported, not waited for.
  boundAnswers();
  const cfg = loadConfig();
  let url = serverUrl(cfg);
  const user = flag(args, 'user-name') || flag(args, 'as');
  if (user) url = withCredentials(url, user, flag(args, 'password') || cfg.password || '');
  return { cfg, url, server: connect(url), json: args.flags.json === true, out };
}

/** The name the server knows us by (from `_session`). */
export async function whoami(ctx: Context): Promise<{ name: string | null; roles: string[] }> {
  // CouchDB's `_session` answer: `userCtx.name` is null for an anonymous request.
  const s: { userCtx: { name: string | null; roles: string[] } } = await ctx.server.session();
  return s.userCtx;
}
