import { z } from 'zod';
import { RedisEnv } from '#libs/config';

/** The edge's environment on top of BusEnv (SPEC section 1). */
export const EdgeEnv = {
  ...RedisEnv,
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  /** Largest request body accepted, in bytes (413 above it). */
  MAX_REQUEST_BODY_BYTES: z.coerce.number().int().positive().default(4 * 1024 * 1024),
  /** Comma-separated browser origins allowed on the MCP endpoints besides loopback ones. */
  ALLOWED_ORIGINS: z.string().default(''),
  /**
   * Comma-separated Host header values accepted (`name`, `name:port`, `*.domain`, `*`); others get 403 on every path
   * but /health/*. Unset: loopback names only when HOST is a loopback address, else not checked.
   */
  ALLOWED_HOSTS: z.string().default(''),
  /**
   * The deployment's shared secret (as the registry's): seals the requestState of MCP 2026-07-28 multi round-trip
   * calls, so that any edge opens what another sealed. Unset: the master key serves.
   */
  SWITCHBOARD_SALT_KEY: z.string().min(1).optional(),
  /** `subscriptions/listen` streams one key may hold open on one edge replica (429 past it; the master key has no cap). */
  MAX_LISTEN_STREAMS_PER_KEY: z.coerce.number().int().positive().default(100),
  /** The gRPC admin API (proto/switchboard/admin/v1/admin.proto) on HOST:GRPC_PORT; unset: no gRPC listener. */
  GRPC_PORT: z.coerce.number().int().min(0).max(65535).optional(),
};
