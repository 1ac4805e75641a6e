import { buildApp } from './app';
import type { DesignSpec } from './types';

/**
 * Views behind the CLI's `status` and the monitoring page, and the page itself as attachments.
 * Kept lean: every view costs index time on every write (seed 002: 28 h -> 25 min by view hygiene).
 */
export const transfersMonitor: DesignSpec = {
  db: 'transfers',
  name: 'monitor',
  views: {
    totals: { map: 'views/transfers/monitor/totals/map.ts', reduce: '_stats' },
    by_user: { map: 'views/transfers/monitor/by_user/map.ts', reduce: '_stats' },
    overview: { map: 'views/transfers/monitor/overview/map.ts', reduce: '_stats' },
  },
  attachments: buildApp,
};
