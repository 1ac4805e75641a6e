/**
 * CommonJS `require` inside a design document, as CouchDB 3's query server does it
 * (share/server/util.js): a path like `lib/validate_doc_update` names a string property of the
 * design document (`..` and `.` relative to the requiring module), the module runs once with
 * `module`, `exports` and `require`, and its exports are cached for the life of the compiled
 * design document. The embedded server (couchdb-eval 4.2.0 evaluates a module again on every
 * `require`) and the in-process tests use this one, so a validation function behaves and costs the
 * same on both engines.
 */
type Json = Record<string, unknown>;
type Module = { id: string; current: string; parent: Module | null; exports: Record<string, unknown> };

export function ddocRequire(
  ddoc: Json,
  evaluate: (
    source: string,
    id: string,
  ) => (module: Module, exports: unknown, require: (name: string) => unknown) => void,
): (name: string) => unknown {
  const cache = new Map<string, unknown>();
  const resolve = (name: string, parent: Module | null): Module => {
    const parts = name.split('/');
    const path = parent && (parts[0] === '.' || parts[0] === '..') ? parent.id.split('/').slice(0, -1) : [];
    for (const p of parts) {
      if (p === '..') {
        if (!path.length) throw new Error(`require('${name}'): invalid require path, object root is reached`);
        path.pop();
      } else if (p !== '.') path.push(p);
    }
    let node: unknown = ddoc;
    for (const p of path) {
      node =
        node && typeof node === 'object' && Object.prototype.hasOwnProperty.call(node, p)
          ? (node as Json)[p]
          : undefined;
      if (node === undefined) throw new Error(`require('${name}'): no such module ${path.join('/')}`);
    }
    if (typeof node !== 'string') throw new Error(`require('${name}'): ${path.join('/')} is not a module (a string)`);
    return { id: path.join('/'), current: node, parent, exports: {} };
  };
  const load = (name: string, parent: Module | null): unknown => {
    const mod = resolve(name, parent);
    if (!cache.has(mod.id)) {
      // An empty exports object first: a circular require gets it instead of recursing forever.
      cache.set(mod.id, {});
      evaluate(mod.current, mod.id)(mod, mod.exports, (n: string) => load(n, mod));
      cache.set(mod.id, mod.exports);
    }
    return cache.get(mod.id);
  };
  return (name: string) => load(name, null);
}
