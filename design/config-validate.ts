import type { DesignSpec } from './types';

/** Only operators change sites, links and settings; shapes are checked (TFC rules must compile). */
export const configValidate: DesignSpec = {
  db: 'config',
  name: 'validate',
  validate: 'views/config/validate_doc_update.ts',
};
