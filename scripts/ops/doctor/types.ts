/**
 * What every doctor check takes and gives back: the options of one run and its findings. Apart
 * from the checks so each check file can use them without importing the one that runs them all.
 */
import type { DesignSpec } from '../../../design/types';
import type { DbRole } from '../../../views/schema';

export type Level = 'ok' | 'warning' | 'problem';

export interface Finding {
  readonly check: 'server' | 'database' | 'design' | 'index' | 'page' | 'agent' | 'storage' | 'edge';
  readonly subject: string;
  readonly level: Level;
  readonly message: string;
}

export interface DoctorOptions {
  readonly url: string;
  readonly dbs: Record<DbRole, string>;
  /** Agents that must be alive (default: every registered agent). */
  readonly agents: readonly string[];
  readonly designs?: readonly DesignSpec[];
  readonly now?: Date;
  /** Heartbeat interval of the runner (30 s); dead after 3 missed beats. */
  readonly heartbeatMs?: number;
  /** How long an index query may take before the index counts as "not built". */
  readonly indexWaitMs?: number;
  /**
   * Changes an index may have left to process before that is a problem: the first query waits
   * for them. 10,000 changes are a few seconds of indexing on either server.
   */
  readonly indexLagLimit?: number;
  readonly storageTimeoutMs?: number;
  /** Metrics URLs of the sites' edges (COUCHSTAGE_EDGE_METRICS; none: no edge check). */
  readonly edges?: readonly string[];
}

/** What the doctor keeps of a database's info: where its changes are and how many documents it has. */
export type DbInfo = { update_seq: string | number; doc_count: number };

/** The databases that answered, by role: checks of their contents skip the ones that did not. */
export type DbInfos = Partial<Record<DbRole, DbInfo>>;
