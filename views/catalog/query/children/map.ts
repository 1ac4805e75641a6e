/**
 * Parentage, read downwards: key ['file', parent LFN, child LFN] (value: the child's block) and
 * ['dataset', parent dataset, child dataset] (value null). Parents are read from the child
 * document itself; this view answers "what was made from X".
 */
import { DocType, type CatalogFileDoc, type DatasetDoc } from '../../../schema';

export default function map(doc: CatalogFileDoc | DatasetDoc): void {
  const parents = doc.parents || [];
  for (let i = 0; i < parents.length; i++) {
    if (doc.type === DocType.file) emit(['file', parents[i], doc.lfn], doc.block);
    else if (doc.type === DocType.dataset) emit(['dataset', parents[i], doc.name], null);
  }
}
