import type { DesignSpec } from './types';

/** Shape and permission rules for transfers, transfer jobs, heartbeats and requests. */
export const transfersValidate: DesignSpec = {
  db: 'transfers',
  name: 'validate',
  validate: 'views/transfers/validate_doc_update.ts',
};
