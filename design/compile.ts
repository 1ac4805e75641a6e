/**
 * The compile pipeline: esbuild bundles one TypeScript module (its default export is the design
 * function) with everything it imports, for CouchDB's JS engine (ES2017: CouchDB 3.x's
 * SpiderMonkey and QuickJS both take it; es5 would fail on const/let). The bundle becomes the body
 * of a classic anonymous `function (doc) {...}`, the one shape every CouchDB and PouchDB accepts.
 * Guards against the silent failure modes we measured: a minifier dropping the function (empty
 * map), Node globals leaking in, syntax the engine cannot parse. The result is tested as a string.
 *
 * A validation function is a CommonJS module in the design document (`lib.<name>`) and a
 * two-line function that requires it. Inline, the whole bundle (38 KB for transfers) ran again on
 * every document written: CouchDB calls the function per document, and QuickJS, an interpreter,
 * rebuilt every table and function of the module each time. CouchDB keeps a required module's
 * exports for the life of the design document (the embedded server package's ddocRequire,
 * scripts/server/ddoc-require.ts, does the same there), so it runs once per query-server process.
 */
import { build } from 'esbuild';
import * as path from 'path';
import * as vm from 'vm';
import { ddocRequire } from '../scripts/server';

export type FunctionKind = 'map' | 'validate';

const PARAMS: Record<FunctionKind, readonly string[]> = {
  map: ['doc'],
  validate: ['newDoc', 'oldDoc', 'userCtx', 'secObj'],
};

const GLOBAL = '__couchstage';
/**
 * How long evaluating a compiled bundle may take: a bound for a top-level loop that never ends,
 * not a speed check. A bundle evaluates in milliseconds, but vm's watchdog counts wall-clock
 * time, and with 1 s every validation test of one file failed once on this 2-core machine while
 * other test runs shared it (load average above 15).
 */
const EVAL_TIMEOUT_MS = 30_000;

/** Names that exist in Node but not in CouchDB's sandbox. */
const FORBIDDEN = /\b(require|process|Buffer|module|__dirname|__filename|setTimeout|setImmediate)\b\s*[(.[]/;

export class CompileError extends Error {}

async function bundle(entry: string): Promise<string> {
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
  return result.outputFiles[0].text.trim();
}

export async function compileFunction(entry: string, kind: FunctionKind): Promise<string> {
  const body = await bundle(entry);
  const params = PARAMS[kind].join(', ');
  const source = `function (${params}) {\n${body}\nreturn ${GLOBAL}.default(${params});\n}`;
  verifyFunction(source, kind, entry);
  return source;
}

/** Where a design document keeps its validation module. */
export const VALIDATE_MODULE = 'lib/validate_doc_update';

/** The validation function and the module it requires (to be stored at VALIDATE_MODULE). */
export async function compileValidation(entry: string): Promise<{ fn: string; module: string }> {
  const body = await bundle(entry);
  const module = `${body}\nmodule.exports = ${GLOBAL};\n`;
  const params = PARAMS.validate.join(', ');
  const fn = `function (${params}) {\n  return require('${VALIDATE_MODULE}').default(${params});\n}`;
  const where = path.relative(process.cwd(), entry);
  const leaked = FORBIDDEN.exec(body);
  if (leaked) throw new CompileError(`${where}: uses "${leaked[1]}", which CouchDB's JS engine does not have`);
  let exported: unknown;
  try {
    // The module alone must define a callable default export, or every write would be refused.
    const ddoc = { lib: { validate_doc_update: module } };
    evaluateFunction(fn, {}, ddoc);
    exported = (ddocRequireIn(vm.createContext({}), ddoc)(VALIDATE_MODULE) as { default?: unknown }).default;
  } catch (err) {
    throw new CompileError(`${where}: compiled module does not evaluate: ${(err as Error).message}`);
  }
  if (typeof exported !== 'function') throw new CompileError(`${where}: the module has no default export function`);
  if ((exported as (...a: unknown[]) => unknown).length !== PARAMS.validate.length)
    throw new CompileError(`${where}: expected ${PARAMS.validate.length} parameters`);
  return { fn, module };
}

/** A design document's `require`, its modules evaluated in `context`. */
function ddocRequireIn(context: vm.Context, ddoc: Record<string, unknown>): (name: string) => unknown {
  return ddocRequire(ddoc, (source, id) =>
    vm.runInContext(`(function (module, exports, require) {\n${source}\n})`, context, {
      timeout: EVAL_TIMEOUT_MS,
      filename: id,
    }),
  );
}

/**
 * Evaluates the string as CouchDB would, in a context without Node globals; with `ddoc`, the
 * function can `require` the design document's modules.
 */
export function evaluateFunction(
  source: string,
  globals: Record<string, unknown> = {},
  ddoc?: Record<string, unknown>,
): (...args: unknown[]) => unknown {
  const context = vm.createContext({ ...globals });
  if (ddoc) context.require = ddocRequireIn(context, ddoc);
  return vm.runInContext('(' + source + ')', context, { timeout: EVAL_TIMEOUT_MS }) as (...args: unknown[]) => unknown;
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
    exported = vm.runInContext(`${body}\n;typeof ${GLOBAL}.default`, vm.createContext({}), {
      timeout: EVAL_TIMEOUT_MS,
    });
  } catch (err) {
    throw new CompileError(`${where}: compiled source does not evaluate: ${(err as Error).message}`);
  }
  if (typeof fn !== 'function') throw new CompileError(`${where}: compiled source is not a function`);
  if (fn.length !== PARAMS[kind].length) throw new CompileError(`${where}: expected ${PARAMS[kind].length} parameters`);
  if (exported !== 'function') throw new CompileError(`${where}: the module has no default export function`);
}
