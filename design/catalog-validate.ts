import type { DesignSpec } from './types';

/** Only agents and operators write the catalogue; closed blocks never change. */
export const catalogValidate: DesignSpec = {
  db: 'catalog',
  name: 'validate',
  validate: 'views/catalog/validate_doc_update.ts',
};
