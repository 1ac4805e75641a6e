/**
 * Shape checks of the configuration documents in `config`: sites (endpoints, TFC rules,
 * namespaces), links and settings.
 */
import { tfcRuleProblem } from '../tfc';
import { siteNamespacesProblem } from '../namespace';
import { first, isNonNegInt, isObject, optional, siteNameProblem, type Json, type Problem } from './basic';

export function siteProblem(doc: Json): Problem {
  const p = siteNameProblem('name', doc.name);
  if (p) return p;
  if (!isObject(doc.endpoints)) return 'endpoints: must be an object {protocol: url}';
  for (const proto in doc.endpoints) {
    const url = doc.endpoints[proto];
    if (!/^[a-z][a-z0-9+.-]*$/.test(proto)) return 'endpoints.' + proto + ': protocol names are lowercase letters';
    if (typeof url !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\/\S+$/.test(url))
      return 'endpoints.' + proto + ': must be a URL such as root://host:1094';
  }
  if (!Array.isArray(doc.tfc)) return 'tfc: must be an array of rules';
  for (let i = 0; i < doc.tfc.length; i++) {
    const r = tfcRuleProblem('tfc[' + i + ']', doc.tfc[i]);
    if (r) return r;
  }
  return (
    optional('cleanup_source', doc, (f, u) => (typeof u === 'boolean' ? null : f + ': must be true or false')) ||
    optional('namespaces', doc, siteNamespacesProblem)
  );
}

export function linkProblem(doc: Json): Problem {
  return first([
    siteNameProblem('source', doc.source),
    siteNameProblem('destination', doc.destination),
    isNonNegInt(doc.max_active) ? null : 'max_active: must be a non-negative integer',
    optional('mode', doc, (f, u) => (u === 'stream' || u === 'tpc' ? null : f + ': must be "stream" or "tpc"')),
  ]);
}

/** Every numeric setting is a non-negative integer; unknown settings are refused (typos). */
export function settingsProblem(doc: Json, known: readonly string[]): Problem {
  for (const key in doc) {
    if (key === 'type' || key.charAt(0) === '_') continue;
    if (known.indexOf(key) < 0) return key + ': unknown setting';
    if (!isNonNegInt(doc[key])) return key + ': must be a non-negative integer';
  }
  return null;
}
