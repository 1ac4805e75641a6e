/** A small argument parser: `--flag`, `--key value`, `--key=value` and positionals. */
export interface Args {
  readonly positional: string[];
  readonly flags: Record<string, string | true>;
}

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[], valued: readonly string[]): Args {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-') positional.push(a);
    else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (eq > 0) flags[key] = a.slice(eq + 1);
      else if (valued.includes(key)) {
        if (argv[i + 1] === undefined) throw new UsageError(`--${key} needs a value`);
        flags[key] = argv[++i];
      } else flags[key] = true;
    } else positional.push(a);
  }
  return { positional, flags };
}

export function flag(args: Args, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === 'string' ? v : undefined;
}
