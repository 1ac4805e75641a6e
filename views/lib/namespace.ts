/**
 * Owners' namespaces, the way CMS lays out storage: a job's outputs wait in the user's temporary
 * area (`/store/temp/user/<user>/`) and are copied into their own area (`/store/user/<user>/`) or
 * a group's area (`/store/group/<group>/`) when the user holds the role `couchstage-group-<group>`
 * (Role's GROUP_ROLE_PREFIX). A dataset is published only by its owner: its processed name starts
 * with `<user>-` (CRAB names user datasets so) or `<group>-` for a group the transfer is written for.
 *
 * validate_doc_update holds every user's transfer to DEFAULT_NAMESPACES (it cannot read the config
 * database); a site's `namespaces` may name other prefixes, which the scheduler and the worker
 * check again before any copy. Pure functions; they run inside CouchDB's JS engine too.
 */
import { GROUP_ROLE_PREFIX } from '../schema/databases';
import type { SiteNamespaces } from '../schema/config';
import type { Problem } from './paths';

export const USER_PLACEHOLDER = '{user}';
export const GROUP_PLACEHOLDER = '{group}';

export const DEFAULT_NAMESPACES: Required<SiteNamespaces> = {
  source: ['/store/temp/user/{user}/'],
  destination: ['/store/user/{user}/', '/store/group/{group}/'],
};

/**
 * A user or group name that can stand as one path segment: `a/b` would name a place inside user
 * `a`'s area, and `.`/`..` cannot start it.
 */
export const OWNER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Lists longer than this are a configuration mistake, not a layout. */
const MAX_TEMPLATES = 32;

export function groupsOf(roles: readonly string[] | undefined): string[] {
  const out: string[] = [];
  const list = roles || [];
  for (let i = 0; i < list.length; i++) {
    const r = list[i];
    if (
      typeof r === 'string' &&
      r.indexOf(GROUP_ROLE_PREFIX) === 0 &&
      OWNER_NAME_RE.test(r.slice(GROUP_ROLE_PREFIX.length))
    ) {
      out.push(r.slice(GROUP_ROLE_PREFIX.length));
    }
  }
  return out;
}

function segmentOk(s: string): boolean {
  return s !== '' && s !== '.' && s !== '..' && /^[A-Za-z0-9_.+=,@~-]+$/.test(s);
}

/** `/a/{user}/b/`: absolute, ending in `/`, plain segments and exactly one placeholder segment. */
export function templateProblem(field: string, u: unknown): Problem {
  if (typeof u !== 'string' || u.charAt(0) !== '/' || u.charAt(u.length - 1) !== '/' || u.length > 256) {
    return field + ': must be an LFN prefix such as /store/user/{user}/ (absolute, ending with /)';
  }
  const parts = u.slice(1, -1).split('/');
  let holders = 0;
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === USER_PLACEHOLDER || parts[i] === GROUP_PLACEHOLDER) holders++;
    else if (!segmentOk(parts[i]))
      return field + ': segment "' + parts[i] + '" is not a plain name (letters, digits, _ . + = , @ ~ -)';
  }
  if (holders !== 1)
    return field + ': must contain exactly one {user} or {group} segment, so that every file has one owner';
  return null;
}

/** The `namespaces` field of a site document. */
export function siteNamespacesProblem(field: string, u: unknown): Problem {
  if (typeof u !== 'object' || u === null || Array.isArray(u))
    return field + ': must be an object {source: [...], destination: [...]}';
  const ns = u as { [k: string]: unknown };
  for (const key in ns) {
    if (key !== 'source' && key !== 'destination') return field + '.' + key + ': unknown field (source or destination)';
    const list = ns[key];
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_TEMPLATES) {
      return field + '.' + key + ': must be a list of 1 to ' + MAX_TEMPLATES + ' LFN prefixes';
    }
    for (let i = 0; i < list.length; i++) {
      const p = templateProblem(field + '.' + key + '[' + i + ']', list[i]);
      if (p) return p;
    }
  }
  return null;
}

/** Whether `lfn` is a file below `template` with its placeholder filled by one of `names`. */
function inTemplate(lfn: string, template: string, user: string, groups: readonly string[]): boolean {
  const holder = template.indexOf(USER_PLACEHOLDER) >= 0 ? USER_PLACEHOLDER : GROUP_PLACEHOLDER;
  const at = template.indexOf(holder);
  const prefix = template.slice(0, at);
  const suffix = template.slice(at + holder.length);
  if (lfn.indexOf(prefix) !== 0) return false;
  const rest = lfn.slice(prefix.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return false;
  const name = rest.slice(0, slash);
  const below = rest.slice(slash);
  if (below.indexOf(suffix) !== 0 || below.length <= suffix.length) return false;
  return holder === USER_PLACEHOLDER ? name === user : groups.indexOf(name) >= 0;
}

function describe(templates: readonly string[], user: string): string {
  return templates.map((t) => t.replace(USER_PLACEHOLDER, user).replace(GROUP_PLACEHOLDER, '<group>')).join(' or ');
}

/**
 * Null when `lfn` lies in one of the owner's areas: `{user}` filled with `user`, `{group}` with one
 * of `groups`. The message names the allowed prefixes, so a user can fix the submission.
 */
export function ownerAreaProblem(
  field: string,
  lfn: unknown,
  templates: readonly string[],
  user: string,
  groups: readonly string[],
): Problem {
  if (typeof lfn !== 'string') return field + ': must be an LFN';
  for (let i = 0; i < templates.length; i++) if (inTemplate(lfn, templates[i], user, groups)) return null;
  const groupNote = templates.some((t) => t.indexOf(GROUP_PLACEHOLDER) >= 0)
    ? groups.length
      ? " (group areas: only the transfer's group " + groups.join(', ') + ')'
      : ' (a group area needs group: <group> and the role ' + GROUP_ROLE_PREFIX + '<group>)'
    : '';
  return field + ': must be in your own area, under ' + describe(templates, user) + groupNote;
}

/**
 * A dataset is its owner's: `/primary/<user>-.../TIER`, or `/primary/<group>-.../TIER` for the
 * transfer's group.
 */
export function datasetOwnerProblem(field: string, dataset: unknown, user: string, group: string | null): Problem {
  if (typeof dataset !== 'string') return null; // the shape check reports it
  const processed = dataset.split('/')[2] || '';
  if (processed.indexOf(user + '-') === 0) return null;
  if (group && processed.indexOf(group + '-') === 0) return null;
  return (
    field +
    ': you may only publish into or act on your own datasets, whose processed name starts with "' +
    user +
    '-"' +
    (group ? ' or "' + group + '-"' : '') +
    ', e.g. /Primary/' +
    user +
    '-mytask-v1/USER'
  );
}

/** The namespaces of `site`, defaults filled in. */
export function namespacesOf(site: { readonly namespaces?: SiteNamespaces } | undefined): Required<SiteNamespaces> {
  const ns = (site && site.namespaces) || {};
  return {
    source: ns.source || DEFAULT_NAMESPACES.source,
    destination: ns.destination || DEFAULT_NAMESPACES.destination,
  };
}

/** The part of a transfer an owner check needs. */
export interface OwnedTransfer {
  readonly user: string;
  readonly group?: string;
  readonly source_lfn: string;
  readonly destination_lfn: string;
  readonly publish?: boolean;
  readonly dataset?: string;
}

/**
 * Everything about a transfer's ownership that the document alone decides, for the given
 * namespaces: the user's name can own paths, its source is in the user's area, its destination in
 * the user's or its group's area, its dataset the user's or the group's. `allowedGroups` is what
 * the writer may act for (validate_doc_update: the roles; agents: the group the document names,
 * which validate_doc_update checked against the roles when it was written).
 */
export function transferOwnerProblem(
  doc: OwnedTransfer,
  ns: Required<SiteNamespaces>,
  allowedGroups: readonly string[],
): Problem {
  const user = doc.user;
  if (typeof user !== 'string' || !OWNER_NAME_RE.test(user)) {
    return 'user: a user name must be a plain path segment (letters, digits, _ . -) to own files';
  }
  const group = typeof doc.group === 'string' ? doc.group : null;
  if (group !== null && (!OWNER_NAME_RE.test(group) || allowedGroups.indexOf(group) < 0)) {
    return 'group: you may only write for a group whose role you hold (' + GROUP_ROLE_PREFIX + group + ')';
  }
  const groups = group === null ? [] : [group];
  return (
    ownerAreaProblem('source_lfn', doc.source_lfn, ns.source, user, groups) ||
    ownerAreaProblem('destination_lfn', doc.destination_lfn, ns.destination, user, groups) ||
    (doc.publish === true || doc.dataset !== undefined
      ? datasetOwnerProblem('dataset', doc.dataset, user, group)
      : null)
  );
}
