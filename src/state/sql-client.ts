/**
 * What a transactional store hands the executor inside its own transaction, so the
 * checkpoint and the audit entry commit with the change. Deliberately driver-free:
 * node-postgres's client satisfies it, and no layer above the stores names a driver type.
 */
export interface SqlClient {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}
