import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CreateServerRequest, DomainError } from '#libs/contracts';
import { ADMIN_RPCS, fromStruct, toStruct } from './admin-rpcs.js';
import { toGrpcError } from './grpc-status.js';

describe('toGrpcError', () => {
  it('maps the envelope codes to gRPC status codes', () => {
    const cases: [DomainError, status][] = [
      [new DomainError('UNAUTHENTICATED', 'missing API key'), status.UNAUTHENTICATED],
      [new DomainError('PERMISSION_DENIED', 'admin only'), status.PERMISSION_DENIED],
      [new DomainError('NOT_FOUND', 'no such server'), status.NOT_FOUND],
      [new DomainError('CONFLICT', 'key_alias: taken'), status.ALREADY_EXISTS],
      [new DomainError('CONFLICT', 'team t has 2 keys', { key_count: 2 }), status.FAILED_PRECONDITION],
      [new DomainError('RATE_LIMITED', 'slow down'), status.RESOURCE_EXHAUSTED],
      [new DomainError('UPSTREAM_UNAVAILABLE', 'no connector'), status.UNAVAILABLE],
      [new DomainError('BUS_TIMEOUT', 'late'), status.DEADLINE_EXCEEDED],
      [new DomainError('UPSTREAM_TIMEOUT', 'late'), status.DEADLINE_EXCEEDED],
      [new DomainError('INTERNAL', 'boom'), status.INTERNAL],
    ];
    for (const [error, code] of cases) {
      const mapped = toGrpcError(error);
      expect(mapped.code, error.code).toBe(code);
      expect(mapped.details).toBe(error.message);
      expect(mapped.metadata!.get('sb-error-code')).toEqual([error.code]);
    }
    expect(toGrpcError(new Error('unexpected')).code).toBe(status.INTERNAL);
  });

  it('names the field of an INVALID_ARGUMENT, from a zod error or the message', () => {
    const parsed = CreateServerRequest.safeParse({ server_name: 'ok', url: 'ftp://x' });
    const fromZod = toGrpcError(parsed.error as z.ZodError);
    expect(fromZod.code).toBe(status.INVALID_ARGUMENT);
    expect(fromZod.details).toMatch(/^url: /);
    expect(fromZod.metadata!.get('sb-field')).toEqual(['url']);
    const fromMessage = toGrpcError(new DomainError('INVALID_ARGUMENT', 'object_permission.mcp_servers: no MCP server "x"'));
    expect(fromMessage.metadata!.get('sb-field')).toEqual(['object_permission.mcp_servers']);
    const fromDetails = toGrpcError(new DomainError('INVALID_ARGUMENT', 'bad', { field: 'key' }));
    expect(fromDetails.metadata!.get('sb-field')).toEqual(['key']);
  });
});

describe('ADMIN_RPCS', () => {
  it('turns Struct, StringList and clear into the REST body, and back', () => {
    const metadata = { owner: 'ci', n: 2, tags: ['a', 'b'], nested: { ok: true, none: null } };
    expect(fromStruct(toStruct(metadata))).toEqual(metadata);

    const update = ADMIN_RPCS.Servers!.UpdateServer!.request({ server_id: 's', allowed_tools: { values: ['echo'] }, args: {}, clear: ['url', 'env', 'access_groups'] });
    expect(update).toEqual({ server_id: 's', allowed_tools: ['echo'], args: [], url: null, env: {}, access_groups: [] });

    const key = ADMIN_RPCS.Keys!.CreateKey!.request({
      key_alias: 'k',
      metadata: toStruct({ team: 'x' }),
      object_permission: { mcp_servers: ['a'], mcp_tool_permissions: { a: { values: ['t'] } } },
    });
    expect(key).toEqual({ key_alias: 'k', metadata: { team: 'x' }, object_permission: { mcp_servers: ['a'], mcp_access_groups: [], mcp_tool_permissions: { a: ['t'] } } });

    const server = ADMIN_RPCS.Servers!.GetServer!.reply({ server_id: 's', allowed_tools: null, disallowed_tools: ['x'] });
    expect(server).toMatchObject({ allowed_tools: undefined, disallowed_tools: { values: ['x'] } });
  });

  it('covers every RPC of the .proto with a public admin contract', async () => {
    const { loadSync } = await import('@grpc/proto-loader');
    const { adminProtoPath, PROTO_LOADER_OPTIONS, ADMIN_PACKAGE } = await import('./grpc-admin.server.js');
    const definition = loadSync(adminProtoPath(), PROTO_LOADER_OPTIONS);
    for (const [service, rpcs] of Object.entries(ADMIN_RPCS)) {
      const methods = Object.keys(definition[`${ADMIN_PACKAGE}.${service}`] as object).sort();
      expect(methods, service).toEqual(Object.keys(rpcs).sort());
      for (const rpc of Object.values(rpcs)) expect(rpc.contract.subject).toMatch(/^sb\.v1\.admin\./);
    }
  });

  it("carries an access token's explanation (claims, audience) through the proto, and takes a token in the request", async () => {
    const { loadSync } = await import('@grpc/proto-loader');
    const { adminProtoPath, PROTO_LOADER_OPTIONS, ADMIN_PACKAGE } = await import('./grpc-admin.server.js');
    const definition = loadSync(adminProtoPath(), PROTO_LOADER_OPTIONS);
    const method = (definition[`${ADMIN_PACKAGE}.Permissions`] as Record<string, any>).ExplainPermissions;
    const rpc = ADMIN_RPCS.Permissions!.ExplainPermissions!;

    const request = method.requestDeserialize(method.requestSerialize({ token: 'opaque-token', resource: 'http://127.0.0.1:4000/mcp' }));
    expect(rpc.contract.request.parse(rpc.request(request))).toEqual({ token: 'opaque-token', resource: 'http://127.0.0.1:4000/mcp' });

    const reply = {
      token: {
        issuer: 'http://127.0.0.1:9000',
        user_id: 'carol',
        team: { by: 'id_or_alias', value: 'eng' },
        organization: null,
        claims: { sub: 'carol', groups: ['staff', 'engineering'] },
        scopes: ['mcp:tools'],
        required_scopes: ['mcp:tools'],
        audience: ['http://127.0.0.1:4000/mcp'],
        expires: null,
        team_id: 'team-1',
        organization_id: null,
      },
      levels: { key: null, team: { mcp_servers: ['ev'], mcp_access_groups: [], mcp_tool_permissions: {} }, organization: null },
      is_master: false,
      fingerprint: 'f',
      servers: [],
    };
    const decoded = method.responseDeserialize(method.responseSerialize(rpc.reply(reply)));
    expect(decoded.token).toMatchObject({ issuer: 'http://127.0.0.1:9000', user_id: 'carol', team: { by: 'id_or_alias', value: 'eng' }, scopes: ['mcp:tools'], team_id: 'team-1' });
    expect(fromStruct(decoded.token.claims)).toEqual({ sub: 'carol', groups: ['staff', 'engineering'] });
    expect(fromStruct({ fields: { audience: decoded.token.audience } })).toEqual({ audience: ['http://127.0.0.1:4000/mcp'] });
  });

  it("carries a user's upstream grants and a revocation's outcome (nulls as absent fields)", async () => {
    const { loadSync } = await import('@grpc/proto-loader');
    const { adminProtoPath, PROTO_LOADER_OPTIONS, ADMIN_PACKAGE } = await import('./grpc-admin.server.js');
    const service = loadSync(adminProtoPath(), PROTO_LOADER_OPTIONS)[`${ADMIN_PACKAGE}.UpstreamGrants`] as Record<string, any>;
    const roundTrip = (rpc: string, reply: unknown) => service[rpc].responseDeserialize(service[rpc].responseSerialize(ADMIN_RPCS.UpstreamGrants![rpc]!.reply(reply)));
    const grant = { server_id: 's1', server_name: 'jira', has_token: false, scope: null, expires_at: null, authorized_at: null, clients: [{ client_id: 'c1', client_name: null, approved_at: '2026-12-01T00:00:00.000Z' }] };
    expect(roundTrip('ListUpstreamGrants', { grants: [grant] })).toEqual({ grants: [{ server_id: 's1', server_name: 'jira', has_token: false, clients: [{ client_id: 'c1', approved_at: '2026-12-01T00:00:00.000Z' }] }] });
    expect(roundTrip('RevokeUpstreamGrant', { server_name: 'jira', user_id: 'alice', tokens_deleted: true, clients_removed: 2, revoked_at_authorization_server: null })).toEqual({
      server_name: 'jira',
      user_id: 'alice',
      tokens_deleted: true,
      clients_removed: 2,
    });
  });
});
