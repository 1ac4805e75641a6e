/**
 * The demo's `config` documents, written as an operator: one site per demo storage element
 * (endpoint and a TFC rule mapping every LFN under the storage root), links between every pair
 * (max_active 20), and settings with short cooloffs so retries show within a minute.
 * Operators' changes are kept: a document is only created when missing; a site document is
 * rewritten (other fields kept) only when its storage endpoints moved, e.g. to a new port.
 */
import { connect, type Db } from '../../agents/platform/couch';
import { get, put } from '../../agents/platform/docs';
import { DocId, DocType } from '../../views/schema';
import type { DemoSite } from './storage';

export const DEMO_LINK_MAX_ACTIVE = 20;
/** Demo-friendly retries: a wrong checksum is retried after 10 s, then 20 s, and fails after max_retry attempts. */
export const DEMO_SETTINGS = { cooloff: 10, max_cooloff: 60 };

type Doc = Record<string, unknown> & { _id: string; _rev?: string };

export function siteDoc(site: DemoSite): Doc {
  return {
    _id: DocId.site(site.name),
    type: DocType.site,
    name: site.name,
    endpoints: { [site.protocol]: site.endpoint },
    tfc: [{ protocol: site.protocol, path_match: '/+(.*)', result: site.tfcResult }],
  };
}

export function demoConfigDocs(sites: readonly DemoSite[]): Doc[] {
  const docs = sites.map(siteDoc);
  for (const a of sites) {
    for (const b of sites) {
      if (a !== b)
        docs.push({
          _id: DocId.link(a.name, b.name),
          type: DocType.link,
          source: a.name,
          destination: b.name,
          max_active: DEMO_LINK_MAX_ACTIVE,
        });
    }
  }
  docs.push({ _id: DocId.settings, type: DocType.settings, ...DEMO_SETTINGS });
  return docs;
}

export interface ConfigReport {
  created: string[];
  updated: string[];
  kept: string[];
}

/** `url`: the server as an operator (or admin); `db`: the config database's name. */
export async function writeDemoConfig(url: string, db: string, sites: readonly DemoSite[]): Promise<ConfigReport> {
  const config: Db = connect(url).use(db);
  const report: ConfigReport = { created: [], updated: [], kept: [] };
  for (const doc of demoConfigDocs(sites)) {
    const existing = await get<Doc>(config, doc._id);
    if (!existing) {
      await put(config, doc);
      report.created.push(doc._id);
    } else if (doc.type === DocType.site && JSON.stringify(existing.endpoints) !== JSON.stringify(doc.endpoints)) {
      await put(config, { ...existing, endpoints: doc.endpoints, tfc: doc.tfc });
      report.updated.push(doc._id);
    } else {
      report.kept.push(doc._id);
    }
  }
  return report;
}
