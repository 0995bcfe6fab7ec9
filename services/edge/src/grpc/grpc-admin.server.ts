import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, ServerCredentials, loadPackageDefinition, type GrpcObject, type Metadata, type ServerUnaryCall, type ServiceClientConstructor, type sendUnaryData } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { JsonLogger } from '#libs/observability';
import type { AdminGate } from '../admin-api/admin-gate.js';
import type { AdminOperations } from '../admin-api/admin-operations.js';
import { ADMIN_RPCS } from './admin-rpcs.js';
import { toGrpcError } from './grpc-status.js';

export const ADMIN_PROTO = 'proto/switchboard/admin/v1/admin.proto';
export const ADMIN_PACKAGE = 'switchboard.admin.v1';

/**
 * How the proto is read, here and by clients that want the same plain objects: JSON field names, absent fields
 * absent (no defaults), no synthetic oneof keys for proto3 `optional`.
 */
export const PROTO_LOADER_OPTIONS: Options = { keepCase: true, longs: String, enums: String, defaults: false, oneofs: false, arrays: false, objects: false };

/** The repository (or image) root: the nearest folder above this file holding proto/. */
export function adminProtoPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, ADMIN_PROTO);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${ADMIN_PROTO} not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export interface GrpcAdminServer {
  port: number;
  close(graceMs: number): Promise<void>;
}

/** The caller's key from `x-litellm-api-key` or `authorization` metadata, as REST takes it from headers. */
function credentialOf(metadata: Metadata): string | undefined {
  const value = metadata.get('x-litellm-api-key')[0] ?? metadata.get('authorization')[0];
  return value === undefined ? undefined : String(value);
}

/** Epoch ms of the call's deadline, or undefined when the client set none. */
function deadlineOf(call: ServerUnaryCall<unknown, unknown>): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The gRPC admin API on HOST:GRPC_PORT, beside the edge's HTTP server: each RPC checks the credential in the
 * metadata (AdminGate), parses the request with the public contract (a bad field is INVALID_ARGUMENT naming it) and
 * runs the same operation the NATS facade runs. Server reflection is on.
 */
export async function startGrpcAdmin(options: { host: string; port: number; gate: AdminGate; operations: AdminOperations; logger: JsonLogger }): Promise<GrpcAdminServer> {
  const definition = loadSync(adminProtoPath(), PROTO_LOADER_OPTIONS);
  const pkg = loadPackageDefinition(definition).switchboard as GrpcObject;
  const services = (pkg.admin as GrpcObject).v1 as GrpcObject;
  const server = new Server();
  for (const [serviceName, rpcs] of Object.entries(ADMIN_RPCS)) {
    const service = (services[serviceName] as ServiceClientConstructor).service;
    const handlers: Record<string, (call: ServerUnaryCall<Record<string, unknown>, unknown>, callback: sendUnaryData<unknown>) => void> = {};
    for (const [rpcName, rpc] of Object.entries(rpcs)) {
      handlers[rpcName] = (call, callback) => {
        void (async () => {
          const principal = await options.gate.admit(credentialOf(call.metadata));
          const request = rpc.contract.request.parse(rpc.request(call.request ?? {}));
          const deadline = deadlineOf(call);
          const reply = await options.operations.run(rpc.contract, request as never, { principal, ...(deadline ? { deadline } : {}) });
          return rpc.reply(reply);
        })().then(
          (reply) => callback(null, reply),
          (error: unknown) => callback(toGrpcError(error)),
        );
      };
    }
    for (const rpcName of Object.keys(service)) if (!handlers[rpcName]) throw new Error(`${serviceName}.${rpcName} in ${ADMIN_PROTO} has no handler`);
    server.addService(service, handlers);
  }
  new ReflectionService(definition).addToServer(server);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`, ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  options.logger.log(`gRPC admin API on ${options.host}:${port} (${ADMIN_PACKAGE}, reflection on)`, 'Main');
  return {
    port,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
