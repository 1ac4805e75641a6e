/**
 * Map/reduce for the embedded server: PouchDB's own query engine (pouchdb-abstract-mapreduce, the
 * same code, index format and `mrviews` bookkeeping as PouchDB's bundled plugin) with one change:
 * how a design document's JavaScript runs.
 *
 * PouchDB 9 evaluates a map function by building a script from the function's source and the
 * document, then running it in a brand-new V8 context: one `vm.runInNewContext` per document per
 * view. Measured: that was ~2.5 ms per document update per view and most of the server's time
 * when an index is built. Here each function is compiled once, in one shared sandbox context,
 * and called with a JSON copy of the document made by the sandbox's own JSON (so a map function
 * cannot change the stored document or reach the server's objects, as before).
 *
 * Patch record.
 * Package: pouchdb 9.0.0's bundled map/reduce plugin, rebuilt on pouchdb-abstract-mapreduce 9.0.0
 * (the copy under pouchdb-find 9.0.0, the same release; not express-pouchdb's 7.3.1) and
 * pouchdb-mapreduce-utils 9.0.0.
 * Function: `PouchDB.prototype.query` (its map and reduce evaluators).
 * Justified by: a full build of 2 views over 10k documents took 141 s (71 docs/s) before it
 * (BENCHMARKS.md, view indexes); CouchDB builds views in couchjs and needs nothing of this.
 * Goes when: PouchDB compiles a design function once instead of one `vm.runInNewContext` per
 * document per view.
 */
import * as vm from 'vm';
import { upstream } from '../patched-versions';

// The engine pouchdb-find 9 (a direct dependency, same release as pouchdb 9) is built on.
const createAbstractMapReduce = upstream('pouchdb-abstract-mapreduce').load();
const { NotFoundError } = upstream('pouchdb-mapreduce-utils').load();

type Emit = (key: unknown, value?: unknown) => void;
type Fn = (...args: unknown[]) => unknown;

function sum(values: number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

const sandbox = vm.createContext({ __emit: null as Emit | null, __log: () => undefined });
vm.runInContext(
  `var log = __log; var isArray = Array.isArray; var toJSON = JSON.parse; var sum = ${sum.toString()};`,
  sandbox,
);
const sandboxJson = vm.runInContext('JSON', sandbox) as JSON;
const compiled = new Map<string, Fn>();

function compile(source: string): Fn {
  let fn = compiled.get(source);
  if (!fn) {
    // `emit` inside the function reaches whichever emitter the current call installed.
    const code = `(function () { "use strict"; var emit = function (k, v) { __emit(k, v); }; return (${source.replace(/;\s*$/, '')}); })()`;
    fn = vm.runInContext(code, sandbox) as Fn;
    if (typeof fn !== 'function') throw new Error('not a function: ' + source.slice(0, 80));
    compiled.set(source, fn);
  }
  return fn;
}

function copy(u: unknown): unknown {
  return u === undefined ? undefined : sandboxJson.parse(JSON.stringify(u));
}

/** A design-document function, compiled once, called with copies of its arguments. */
function evalFunction(source: string, emit?: Emit): Fn {
  const fn = compile(source);
  return (a1?: unknown, a2?: unknown, a3?: unknown) => {
    const outer = (sandbox as { __emit: Emit | null }).__emit;
    (sandbox as { __emit: Emit | null }).__emit = emit || (() => undefined);
    try {
      return fn(copy(a1), copy(a2), copy(a3));
    } finally {
      (sandbox as { __emit: Emit | null }).__emit = outer;
    }
  };
}

const builtInReduce: Record<string, Fn> = {
  _sum: (_keys: unknown, values: unknown) => sum(values as number[]),
  _count: (_keys: unknown, values: unknown) => (values as unknown[]).length,
  _stats: (_keys: unknown, values: unknown) => {
    const v = values as number[];
    let sumsqr = 0;
    for (const x of v) sumsqr += x * x;
    return { sum: sum(v), min: Math.min.apply(null, v), max: Math.max.apply(null, v), count: v.length, sumsqr };
  },
};

function mapper(mapFun: unknown, emit: Emit): Fn {
  // for temp views one can use emit(doc, emit) (PouchDB's behaviour)
  if (typeof mapFun === 'function' && mapFun.length === 2) return (doc: unknown) => (mapFun as Fn)(doc, emit);
  return evalFunction(String(mapFun), emit);
}

function reducer(reduceFun: unknown): Fn {
  const s = String(reduceFun);
  for (const name of ['_sum', '_count', '_stats']) if (s.indexOf(name) === 0) return builtInReduce[name];
  if (s.charAt(0) === '_') throw new Error(s + ' is not a supported reduce function.');
  return evalFunction(s);
}

function ddocValidator(ddoc: { _id: string; views?: Record<string, { map?: unknown }> }, viewName: string): void {
  const fun = ddoc.views && ddoc.views[viewName];
  if (!fun || typeof fun.map !== 'string') {
    throw new NotFoundError(
      'ddoc ' +
        ddoc._id +
        ' has no string view named ' +
        viewName +
        ', instead found object of type: ' +
        typeof (fun && fun.map),
    );
  }
}

/** The engine: the `mrviews` index format and bookkeeping of PouchDB's own plugin. */
export const engine = createAbstractMapReduce('mrviews', mapper, reducer, ddocValidator) as {
  query(this: unknown, fun: unknown, opts: unknown, callback: unknown): unknown;
  viewCleanup(this: unknown, callback: unknown): unknown;
};

/** `query` of the plugin (patches/pouchdb-view-cleanup.ts gives `viewCleanup`). */
export function query(this: unknown, fun: unknown, opts: unknown, callback: unknown): unknown {
  return engine.query.call(this, fun, opts, callback);
}
