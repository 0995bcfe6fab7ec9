import { credentials, loadPackageDefinition, Metadata, status, type Client, type GrpcObject, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, generateKey, printLogsOnFailure, startEverything, startSuite, type HttpEverything, type Suite } from './support/index.js';

// Issue 13, done-means 2: a client generated from the .proto with @grpc/grpc-js creates a server and a key, gets
// UNAUTHENTICATED without credentials and INVALID_ARGUMENT naming the field for a bad request. Reflection answers.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PROTO = join(ROOT, 'proto/switchboard/admin/v1/admin.proto');
const REFLECTION_PROTO = join(ROOT, 'node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');

type Unary = (request: object, metadata: Metadata, callback: (error: ServiceError | null, reply: any) => void) => void;

describe('the admin API over gRPC', () => {
  let suite: Suite | undefined;
  let upstream: HttpEverything;
  let address: string;
  const clients: Client[] = [];
  let api: Record<'Servers' | 'Keys' | 'Permissions', Client>;

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    upstream = await startEverything('streamableHttp');
    const port = await freePort();
    suite = await startSuite({ mode: 'one-process', config: { mcp_servers: { ev: { url: upstream.url, transport: 'http' } } }, env: { GRPC_PORT: String(port) } });
    address = `127.0.0.1:${port}`;
    // the client is generated from the same .proto a user gets, with proto-loader's usual options
    const pkg = loadPackageDefinition(loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }));
    const v1 = ((pkg.switchboard as GrpcObject).admin as GrpcObject).v1 as GrpcObject;
    const make = (name: string) => {
      const client = new (v1[name] as ServiceClientConstructor)(address, credentials.createInsecure());
      clients.push(client);
      return client;
    };
    api = { Servers: make('Servers'), Keys: make('Keys'), Permissions: make('Permissions') };
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await suite?.stop();
    await upstream?.stop();
  });

  const withKey = (key: string | null) => {
    const metadata = new Metadata();
    if (key) metadata.set('authorization', `Bearer ${key}`);
    return metadata;
  };

  function call(service: keyof typeof api, rpc: string, request: object, key: string | null = suite!.masterKey): Promise<any> {
    return new Promise((done, fail) => {
      (api[service] as unknown as Record<string, Unary>)[rpc]!.call(api[service], request, withKey(key), (error, reply) => (error ? fail(error) : done(reply)));
    });
  }

  async function failure(promise: Promise<unknown>): Promise<ServiceError> {
    try {
      await promise;
    } catch (error) {
      return error as ServiceError;
    }
    throw new Error('the call succeeded');
  }

  it('creates, shows, tests and deletes a server', async () => {
    const created = await call('Servers', 'CreateServer', { server_name: 'grpc_ev', url: upstream.url, transport: 'http', allowed_tools: { values: ['echo'] } });
    expect(created).toMatchObject({ server_name: 'grpc_ev', url: upstream.url, transport: 'http', source: 'api', allowed_tools: { values: ['echo'] } });
    expect(created.server_id).toMatch(/[0-9a-f-]{36}/);

    const listed = await call('Servers', 'ListServers', {});
    expect(listed.servers.map((s: { server_name: string }) => s.server_name)).toContain('grpc_ev');
    const tested = await call('Servers', 'TestServer', { server: 'grpc_ev' });
    expect(tested).toMatchObject({ server_name: 'grpc_ev', status: 'healthy' });
    expect(tested.tools).toContain('echo');

    const deleted = await call('Servers', 'DeleteServer', { server: created.server_id });
    expect(deleted).toEqual({ server_id: created.server_id, server_name: 'grpc_ev', deleted: true });
    const missing = await failure(call('Servers', 'GetServer', { server: created.server_id }));
    expect(missing.code).toBe(status.NOT_FOUND);
  });

  it('creates a key (shown once), with metadata and permissions, and deletes it', async () => {
    const created = await call('Keys', 'CreateKey', {
      key_alias: 'grpc-key',
      metadata: { fields: { owner: { stringValue: 'pipeline' } } },
      object_permission: { mcp_servers: ['ev'], mcp_tool_permissions: { ev: { values: ['echo'] } } },
      rpm_limit: 60,
    });
    expect(created.key).toMatch(/^sk-/);
    expect(created).toMatchObject({ key_alias: 'grpc-key', rpm_limit: 60, metadata: { fields: { owner: { stringValue: 'pipeline' } } } });
    expect(created.object_permission).toMatchObject({ mcp_servers: ['ev'], mcp_tool_permissions: { ev: { values: ['echo'] } } });

    const shown = await call('Keys', 'GetKey', { key: 'grpc-key' });
    expect(shown.token).toBe(created.token);
    expect(shown.key ?? '').toBe(''); // never again

    const explained = await call('Permissions', 'ExplainPermissions', { key: created.key });
    expect(explained.key.key_alias).toBe('grpc-key');
    expect(explained.levels.key.mcp_servers).toEqual(['ev']);
    expect(explained.servers.find((x: { server_name: string }) => x.server_name === 'ev')).toMatchObject({ allowed: true, tools: ['echo'] });

    const deleted = await call('Keys', 'DeleteKeys', { key_aliases: ['grpc-key'] });
    expect(deleted.deleted_keys).toEqual([created.token]);
  });

  it('is UNAUTHENTICATED without credentials or with an unknown key, PERMISSION_DENIED for a key without the admin role', async () => {
    const none = await failure(call('Servers', 'ListServers', {}, null));
    expect(none.code).toBe(status.UNAUTHENTICATED);
    expect(none.details).toMatch(/missing API key/);
    const unknown = await failure(call('Keys', 'CreateKey', {}, 'sk-unknown-to-this-gateway-0000000000'));
    expect(unknown.code).toBe(status.UNAUTHENTICATED);

    const plain = await generateKey(suite!, { key_alias: 'grpc-plain' });
    const denied = await failure(call('Keys', 'ListKeys', {}, plain.key));
    expect(denied.code).toBe(status.PERMISSION_DENIED);
  });

  it('is INVALID_ARGUMENT naming the field for a bad request, and ALREADY_EXISTS for a taken name', async () => {
    const badUrl = await failure(call('Servers', 'CreateServer', { server_name: 'grpc_bad', url: 'ftp://example.com/mcp' }));
    expect(badUrl.code).toBe(status.INVALID_ARGUMENT);
    expect(badUrl.details).toMatch(/^url: /);
    expect(badUrl.metadata.get('sb-field')).toEqual(['url']);

    const badName = await failure(call('Servers', 'CreateServer', { server_name: 'Not A Name', url: upstream.url }));
    expect(badName.code).toBe(status.INVALID_ARGUMENT);
    expect(badName.details).toMatch(/^server_name: /);
    expect(badName.metadata.get('sb-field')).toEqual(['server_name']);

    const badDuration = await failure(call('Keys', 'CreateKey', { duration: 'forever' }));
    expect(badDuration.code).toBe(status.INVALID_ARGUMENT);
    expect(badDuration.metadata.get('sb-field')).toEqual(['duration']);

    await call('Keys', 'CreateKey', { key_alias: 'grpc-taken' });
    const taken = await failure(call('Keys', 'CreateKey', { key_alias: 'grpc-taken' }));
    expect(taken.code).toBe(status.ALREADY_EXISTS);
  });

  it('answers server reflection (grpcurl-style tools list the services)', async () => {
    const pkg = loadPackageDefinition(loadSync(REFLECTION_PROTO, { keepCase: true }));
    const Reflection = (((pkg.grpc as GrpcObject).reflection as GrpcObject).v1 as GrpcObject).ServerReflection as ServiceClientConstructor;
    const client = new Reflection(address, credentials.createInsecure());
    clients.push(client);
    const services = await new Promise<string[]>((done, fail) => {
      const stream = (client as unknown as { ServerReflectionInfo: () => NodeJS.ReadWriteStream & { end(): void } }).ServerReflectionInfo();
      stream.on('data', (reply: { list_services_response?: { service: { name: string }[] } }) => {
        done((reply.list_services_response?.service ?? []).map((s) => s.name));
        stream.end();
      });
      stream.on('error', fail);
      stream.write({ list_services: '' } as never);
    });
    expect(services).toEqual(expect.arrayContaining(['switchboard.admin.v1.Servers', 'switchboard.admin.v1.Keys', 'switchboard.admin.v1.Teams', 'switchboard.admin.v1.Organizations', 'switchboard.admin.v1.Permissions', 'switchboard.admin.v1.Audit']));
  });
});
