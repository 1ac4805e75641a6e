import type { DesignSpec } from './types';

/**
 * The catalogue's queries (DBS, DLS, AliEn namespace): four views, each serving several queries
 * by key prefix (see each map.ts). Everything else is a primary-key read: datasets by name glob
 * (`_all_docs` on `dataset:`), a file by LFN (`file:<sha224>`), a file's replicas
 * (`_all_docs` on `replica:<sha224>:`). scripts/client/catalog.ts runs them; README lists URLs.
 */
export const catalogQuery: DesignSpec = {
  db: 'catalog',
  name: 'query',
  views: {
    contents: { map: 'views/catalog/query/contents/map.ts' },
    names: { map: 'views/catalog/query/names/map.ts' },
    children: { map: 'views/catalog/query/children/map.ts' },
    replicas: { map: 'views/catalog/query/replicas/map.ts', reduce: '_stats' },
  },
};
