/**
 * A backend that copies nothing and reports every file done at once: the control-plane
 * benchmark's backend (`npm run bench:lifecycle`), so that the figure measures couchstage and
 * CouchDB, not storage. Never used by tests that claim a transfer works.
 */
import type { CopyRequest, CopyResult, RemoveResult, StatResult, TransferBackend } from './types';

export class InstantBackend implements TransferBackend {
  readonly name = 'instant';

  async copy(batch: readonly CopyRequest[]): Promise<CopyResult[]> {
    return batch.map((r) => ({ id: r.id, ok: true, adler32: r.adler32, bytes: r.size, seconds: 0 }));
  }

  async remove(urls: readonly string[]): Promise<RemoveResult[]> {
    return urls.map((url) => ({ url, ok: true, existed: false }));
  }

  async stat(urls: readonly string[]): Promise<StatResult[]> {
    return urls.map((url) => ({ url, exists: false }));
  }

  async close(): Promise<void> {}
}
