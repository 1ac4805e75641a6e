/**
 * LFN -> PFN mapping in the style of CMS's trivial file catalogue (seed 004): each site has ordered
 * rules per protocol; the first rule whose `path_match` matches the whole name wins and its
 * `result` is built from the groups ($1..$9). A rule with `chain` first maps the name through the
 * chained protocol's rules and matches against that result. PFNs are always derived, never stored.
 */
import { cleanPathProblem, type Problem } from './paths';
import type { SiteDoc, TfcRule } from '../schema/config';

/** Chains deeper than this are configuration loops, not catalogues. */
const MAX_CHAIN_DEPTH = 8;

function compile(pattern: string): RegExp {
  return new RegExp('^(?:' + pattern + ')$');
}

export function tfcRuleProblem(field: string, u: unknown): Problem {
  if (typeof u !== 'object' || u === null || Array.isArray(u))
    return field + ': must be an object {protocol, path_match, result}';
  const r = u as { [k: string]: unknown };
  for (const key in r) {
    if (['protocol', 'path_match', 'result', 'chain'].indexOf(key) < 0)
      return field + '.' + key + ': unknown field of a TFC rule';
  }
  if (typeof r.protocol !== 'string' || !/^[a-z][a-z0-9+.-]*$/.test(r.protocol))
    return field + '.protocol: must be a protocol name such as root or file';
  if (r.chain !== undefined && (typeof r.chain !== 'string' || !/^[a-z][a-z0-9+.-]*$/.test(r.chain)))
    return field + '.chain: must be a protocol name';
  if (r.chain === r.protocol) return field + '.chain: a rule cannot chain to its own protocol';
  if (typeof r.path_match !== 'string' || r.path_match.length === 0)
    return field + '.path_match: must be a regular expression';
  try {
    // Alone too: "a)|(b" compiles only inside the anchoring group, and would then match a prefix.
    new RegExp(r.path_match);
    compile(r.path_match);
  } catch (e) {
    return field + '.path_match: not a valid regular expression';
  }
  if (typeof r.result !== 'string' || r.result.length === 0) return field + '.result: must be a non-empty string';
  return null;
}

function apply(rules: readonly TfcRule[], protocol: string, name: string, depth: number): string | null {
  if (depth > MAX_CHAIN_DEPTH) return null;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    if (rule.protocol !== protocol) continue;
    const input = rule.chain ? apply(rules, rule.chain, name, depth + 1) : name;
    if (input === null) continue;
    const m = compile(rule.path_match).exec(input);
    if (!m) continue;
    return rule.result.replace(/\$(\d)/g, (_all, d: string) => m[Number(d)] || '');
  }
  return null;
}

/** The PFN of `lfn` at `site` for `protocol`, or null when no rule matches. */
export function lfnToPfn(site: Pick<SiteDoc, 'tfc'>, protocol: string, lfn: string): string | null {
  return apply(site.tfc, protocol, lfn, 0);
}

/**
 * Null when `pfn` names a file below the site's storage root for `protocol` (its endpoint, e.g.
 * `file:///data/se` or `root://host:1094`): it starts with the endpoint and a `/`, and the rest
 * is a clean path (views/lib/paths.ts cleanPathProblem: no `%`, `?`, `#`, `..`, ...) once the
 * leading slashes are taken off (XRootD URLs write `root://host//abs/path`). A TFC rule is
 * operators' text applied to users' names, so its result is checked after it is built.
 */
export function pfnRootProblem(site: Pick<SiteDoc, 'name' | 'endpoints'>, protocol: string, pfn: string): Problem {
  const endpoint = site.endpoints[protocol];
  if (typeof endpoint !== 'string')
    return 'pfn: site ' + site.name + ' has no ' + protocol + ' endpoint to be its storage root';
  let root = endpoint;
  while (root.length > 1 && root.charAt(root.length - 1) === '/' && root.slice(-3) !== '://') root = root.slice(0, -1);
  const outside = 'pfn: ' + pfn + ' is outside the storage root ' + root + ' of ' + site.name;
  if (pfn.indexOf(root) !== 0 || pfn.charAt(root.length) !== '/') return outside;
  const rest = pfn.slice(root.length).replace(/^\/+/, '/');
  const p = cleanPathProblem('pfn', rest);
  return p ? outside + ' (' + p.slice(5) + ')' : null;
}
