/** What every command needs: config, the server URL as the acting user, and the databases. */
import { loadConfig, serverUrl, withCredentials, type Config } from '../../agents/lib/config';
import { connect, type Server } from '../../agents/lib/couch';
import { flag, type Args } from './args';

export interface Context {
  readonly cfg: Config;
  readonly url: string;
  readonly server: Server;
  readonly json: boolean;
  readonly out: (line: string) => void;
}

export function context(args: Args, out: (line: string) => void): Context {
  const cfg = loadConfig();
  let url = serverUrl(cfg);
  const user = flag(args, 'user-name') || flag(args, 'as');
  if (user) url = withCredentials(url, user, flag(args, 'password') || process.env.COUCHSTAGE_PASSWORD || '');
  return { cfg, url, server: connect(url), json: args.flags.json === true, out };
}

/** The name the server knows us by (from `_session`). */
export async function whoami(ctx: Context): Promise<{ name: string | null; roles: string[] }> {
  const s = (await ctx.server.session()) as unknown as { userCtx: { name: string | null; roles: string[] } };
  return s.userCtx;
}
