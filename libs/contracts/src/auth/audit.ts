import { z } from 'zod';
import { defineContract } from '../contract.js';
import { Subjects } from '../subjects.js';
import { Timestamp } from './common.js';

/** `input_required`: a 2026-07-28 call's leg that asked the client for input; the retry's leg has the outcome. */
export const AuditStatus = z.enum(['success', 'error', 'denied', 'rate_limited', 'timeout', 'unauthenticated', 'input_required']);
export type AuditStatus = z.infer<typeof AuditStatus>;

/** One tool call as the edge saw it. Never arguments, results or secrets; the key appears as alias + hash prefix. */
export const AuditRecord = z.object({
  /** When the call started (ISO). */
  time: Timestamp,
  key_alias: z.string().nullable(),
  /** First 8 hex characters of the key's sha256; null for the master key. */
  token_hash_prefix: z.string().max(8).nullable(),
  team_id: z.string().nullable(),
  organization_id: z.string().nullable(),
  server_name: z.string(),
  tool: z.string(),
  status: AuditStatus,
  duration_ms: z.number().int().min(0),
  /** The DomainError code or JSON-RPC error code as text, when status is not success. */
  error_code: z.string().nullable(),
  session_id: z.string().nullable(),
});
export type AuditRecord = z.infer<typeof AuditRecord>;

/**
 * A batch of records (at most 1000) from the edge or llm-proxy, sent in the background (BatchSender: kept and sent
 * again while no auth replica accepts it). One auth replica accepts each batch into its write buffer and replies at
 * once; it inserts in batches (every 200 ms or 500 records) and retries while Postgres is away, so writing the
 * audit never slows a call.
 */
export const WriteAudit = defineContract('WriteAudit', Subjects.auth.writeAudit, z.array(AuditRecord).max(1000), z.object({ accepted: z.number().int() }));

/** How the senders batch audit records (the edge and llm-proxy alike). */
export const AUDIT_SENDING = { what: 'audit records', flushEveryMs: 200, maxBatch: 500, maxPending: 50_000, retryMs: 1_000, timeoutMs: 5_000 } as const;

/** A stored record. */
export const AuditRow = AuditRecord.extend({ id: z.string() });
export type AuditRow = z.infer<typeof AuditRow>;

/**
 * GET /v1/mcp/audit: newest first; every filter is exact except since (inclusive) and until (exclusive).
 * Paging: page from 1, page_size up to 500.
 */
export const QueryAuditRequest = z.strictObject({
  key_alias: z.string().optional(),
  token_hash_prefix: z.string().optional(),
  team_id: z.string().optional(),
  organization_id: z.string().optional(),
  server_name: z.string().optional(),
  tool: z.string().optional(),
  status: AuditStatus.optional(),
  session_id: z.string().optional(),
  since: z.iso.datetime({ offset: true, message: 'expected an ISO-8601 time' }).optional(),
  until: z.iso.datetime({ offset: true, message: 'expected an ISO-8601 time' }).optional(),
  /** Default 1. */
  page: z.coerce.number().int().min(1).optional(),
  /** Default 50. */
  page_size: z.coerce.number().int().min(1).max(500).optional(),
});
export type QueryAuditRequest = z.input<typeof QueryAuditRequest>;
export const QueryAuditReply = z.object({ rows: z.array(AuditRow), total: z.number(), page: z.number(), page_size: z.number() });

export const QueryAudit = defineContract('QueryAudit', Subjects.auth.queryAudit, QueryAuditRequest, QueryAuditReply);
