import { describe, expect, it, vi } from 'vitest';
import type { Bus } from '#libs/bus';
import { CheckServerCall, DomainError } from '#libs/contracts';
import { definitionFromCreate, type ServerRecord } from './server-definition.js';
import type { ServerRepository } from './server.repository.js';
import { ServersService } from './servers.service.js';
import { UpstreamPolicy } from './upstream-policy.js';

// CheckServer: an unsaved definition gets the checks of a create, and nothing is written.

const general = { mcp_blocked_ip_ranges: ['10.0.0.0/8'], mcp_allowed_ip_ranges: [], mcp_stdio_allowed_commands: ['npx'], allowed_remote_mcp_server_urls: [] };
const stored: ServerRecord = {
  ...definitionFromCreate(CheckServerCall.parse({ server_name: 'github', url: 'https://api.example.test/mcp', auth_type: 'bearer_token', auth_value: 'stored-secret' }) as never),
  id: '3f0c3b5e-8a31-4c39-9d62-5c1f2b7a9e10',
  source: 'api',
  created_at: new Date(0),
  updated_at: new Date(0),
};

function setup() {
  const repository = {
    findByRef: vi.fn(async (ref: string) => (ref === stored.id || ref === stored.server_name ? stored : null)),
    insert: vi.fn(),
    update: vi.fn(),
    delete: vi.fn(),
  };
  const bus = { publish: vi.fn() };
  const policy = new UpstreamPolicy({ seedServers: {}, generalSettings: general, resolver: async () => ['203.0.113.7'] });
  const sut = new ServersService(repository as unknown as ServerRepository, bus as unknown as Bus, policy);
  return { sut, repository, bus };
}

const check = (body: Record<string, unknown>) => CheckServerCall.parse(body);

async function errorOf(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe('ServersService.check (test before saving)', () => {
  it('returns the definition as a connector needs it, under a one-off probe id, and writes nothing', async () => {
    const { sut, repository, bus } = setup();
    const first = await sut.check(check({ url: 'https://tools.example.test/mcp', static_headers: { 'x-env': 'prod' } }));
    const second = await sut.check(check({ url: 'https://tools.example.test/mcp' }));
    expect(first).toMatchObject({ server_name: 'connection_test', transport: 'http', url: 'https://tools.example.test/mcp', static_headers: { 'x-env': 'prod' }, ip_ranges: { blocked: ['10.0.0.0/8'], allowed: [] } });
    expect(first.server_id).toMatch(/^probe-[0-9a-f-]{36}$/);
    expect(second.server_id).not.toBe(first.server_id);
    expect(repository.insert).not.toHaveBeenCalled();
    expect(repository.update).not.toHaveBeenCalled();
    expect(bus.publish).not.toHaveBeenCalled();
  });

  it('refuses what a create refuses: a blocked address (url), a stdio command the caller may not run (command)', async () => {
    const { sut } = setup();
    expect(await errorOf(sut.check(check({ url: 'http://10.1.2.3/mcp' })))).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'url' } });
    expect(await errorOf(sut.check(check({ url: 'http://169.254.169.254/mcp' })))).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'url' } });
    expect(await errorOf(sut.check(check({ transport: 'stdio', command: 'bash', caller: 'admin' })))).toMatchObject({ code: 'PERMISSION_DENIED', details: { field: 'command' } });
    await expect(sut.check(check({ transport: 'stdio', command: 'npx', caller: 'admin' }))).resolves.toMatchObject({ command: 'npx' });
    await expect(sut.check(check({ transport: 'stdio', command: 'bash', caller: 'master' }))).resolves.toMatchObject({ command: 'bash' });
  });

  it("uses a stored server's credential when its id comes without one (an edit form never gets it back)", async () => {
    const { sut } = setup();
    const reused = await sut.check(check({ server_id: stored.id, server_name: 'github', url: 'https://api.example.test/mcp', auth_type: 'bearer_token' }));
    expect(reused.auth_value).toBe('stored-secret');
    const typed = await sut.check(check({ server_id: stored.id, url: 'https://api.example.test/mcp', auth_type: 'bearer_token', auth_value: 'new-secret' }));
    expect(typed.auth_value).toBe('new-secret');
    const otherType = await sut.check(check({ server_id: stored.id, url: 'https://api.example.test/mcp', auth_type: 'api_key' }));
    expect(otherType.auth_value).toBeNull();
  });
});
