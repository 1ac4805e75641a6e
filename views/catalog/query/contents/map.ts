/**
 * What a dataset contains (DBS): key [dataset, 0, block] for its blocks (value null; read them with
 * include_docs) and [dataset, 1, block, lfn] for its files (value: size). Blocks of a dataset:
 * [ds,0]..[ds,0,{}]; files of a block: [ds,1,block]..[ds,1,block,{}]; files of a dataset:
 * [ds,1]..[ds,1,{}], kept only where the block is listed (queries join through the block doc, so
 * a block being migrated is visible whole or not at all).
 */
import { DocType, type BlockDoc, type CatalogFileDoc } from '../../../schema';

export default function map(doc: BlockDoc | CatalogFileDoc): void {
  if (doc.type === DocType.block) emit([doc.dataset, 0, doc.name], null);
  else if (doc.type === DocType.file) emit([doc.dataset, 1, doc.block, doc.lfn], doc.size);
}
