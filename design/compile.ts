/**
 * The compile pipeline: esbuild bundles one TypeScript module (its default export is the design
 * function) with everything it imports, for CouchDB's JS engine (ES2017: CouchDB 3.x's
 * SpiderMonkey and QuickJS both take it; es5 would fail on const/let). The bundle becomes the body
 * of a classic anonymous `function (doc) {...}`, the one shape every CouchDB and PouchDB accepts.
 * Guards against the silent failure modes we measured: a minifier dropping the function (empty
 * map), Node globals leaking in, syntax the engine cannot parse. The result is tested as a string.
 */
import { build } from 'esbuild';
import * as path from 'path';
import * as vm from 'vm';

export type FunctionKind = 'map' | 'validate';

const PARAMS: Record<FunctionKind, readonly string[]> = {
  map: ['doc'],
  validate: ['newDoc', 'oldDoc', 'userCtx', 'secObj'],
};

const GLOBAL = '__couchstage';

/** Names that exist in Node but not in CouchDB's sandbox. */
const FORBIDDEN = /\b(require|process|Buffer|module|__dirname|__filename|setTimeout|setImmediate)\b\s*[(.[]/;

export class CompileError extends Error {}

export async function compileFunction(entry: string, kind: FunctionKind): Promise<string> {
  const result = await build({
    entryPoints: [path.resolve(entry)],
    bundle: true,
    write: false,
    format: 'iife',
    globalName: GLOBAL,
    platform: 'neutral',
    target: 'es2017',
    // Syntax-only minification keeps the code readable in Fauxton and the function reachable.
    minifySyntax: true,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'silent',
  });
  const body = result.outputFiles[0].text.trim();
  const params = PARAMS[kind].join(', ');
  const source = `function (${params}) {\n${body}\nreturn ${GLOBAL}.default(${params});\n}`;
  verifyFunction(source, kind, entry);
  return source;
}

/** Evaluates the string as CouchDB would, in a context without Node globals. */
export function evaluateFunction(source: string, globals: Record<string, unknown> = {}): (...args: unknown[]) => unknown {
  const context = vm.createContext({ ...globals });
  return vm.runInContext('(' + source + ')', context, { timeout: 1000 }) as (...args: unknown[]) => unknown;
}

export function verifyFunction(source: string, kind: FunctionKind, entry: string): void {
  const where = path.relative(process.cwd(), entry);
  const leaked = FORBIDDEN.exec(source);
  if (leaked) throw new CompileError(`${where}: uses "${leaked[1]}", which CouchDB's JS engine does not have`);
  if (kind === 'map' && !/\bemit\(/.test(source)) throw new CompileError(`${where}: map never calls emit (empty map)`);
  let fn: unknown;
  let exported: unknown;
  try {
    fn = evaluateFunction(source, { emit: () => undefined });
    // The bundle alone must define a callable default export, or every call would throw.
    const body = source.slice(source.indexOf('{') + 1, source.lastIndexOf('return ' + GLOBAL));
    exported = vm.runInContext(`${body}\n;typeof ${GLOBAL}.default`, vm.createContext({}), { timeout: 1000 });
  } catch (err) {
    throw new CompileError(`${where}: compiled source does not evaluate: ${(err as Error).message}`);
  }
  if (typeof fn !== 'function') throw new CompileError(`${where}: compiled source is not a function`);
  if (fn.length !== PARAMS[kind].length) throw new CompileError(`${where}: expected ${PARAMS[kind].length} parameters`);
  if (exported !== 'function') throw new CompileError(`${where}: the module has no default export function`);
}
