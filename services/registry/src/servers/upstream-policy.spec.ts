import { describe, expect, it } from 'vitest';
import { DomainError, McpServerSpec } from '#libs/contracts';
import { definitionFromSpec } from './server-definition.js';
import { UpstreamPolicy } from './upstream-policy.js';

const general = { mcp_blocked_ip_ranges: ['127.0.0.0/8'], mcp_allowed_ip_ranges: ['127.0.0.1/32'], mcp_stdio_allowed_commands: ['npx', '/usr/bin/uvx'] };
const sut = new UpstreamPolicy({ seedServers: {}, generalSettings: general, resolver: async (host) => (host === 'localhost' ? ['127.0.0.1'] : ['127.0.0.9']) });
const stdio = (command: string) => definitionFromSpec('s', McpServerSpec.parse({ transport: 'stdio', command }));
const remote = (url: string) => definitionFromSpec('r', McpServerSpec.parse({ url }));

async function errorOf(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe('UpstreamPolicy', () => {
  it('refuses a URL with INVALID_ARGUMENT naming the field and the address, names resolved', async () => {
    expect(await errorOf(sut.checkUrl(remote('http://127.0.0.2:9/mcp')))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'url: 127.0.0.2 is in general_settings.mcp_blocked_ip_ranges (127.0.0.0/8)',
      details: { field: 'url', reason: 'blocked' },
    });
    expect((await errorOf(sut.checkUrl(remote('http://intranet.test/mcp')))).message).toBe(
      'url: intranet.test resolves to 127.0.0.9, which is in general_settings.mcp_blocked_ip_ranges (127.0.0.0/8)',
    );
    await expect(sut.checkUrl(remote('http://localhost:9/mcp'))).resolves.toBeUndefined();
    await expect(sut.checkUrl(stdio('npx'))).resolves.toBeUndefined();
  });

  it('lets the master key run any stdio command and admin keys only the allowed ones, matched exactly', () => {
    expect(() => sut.checkStdio(stdio('bash'), 'master')).not.toThrow();
    expect(() => sut.checkStdio(stdio('npx'), 'admin')).not.toThrow();
    expect(() => sut.checkStdio(stdio('/usr/bin/uvx'), 'admin')).not.toThrow();
    for (const command of ['bash', '/tmp/evil/npx', 'uvx']) {
      try {
        sut.checkStdio(stdio(command), 'admin');
        expect.unreachable(command);
      } catch (error) {
        expect(error).toMatchObject({ code: 'PERMISSION_DENIED', details: { field: 'command', command } });
        expect((error as Error).message).toContain('general_settings.mcp_stdio_allowed_commands');
      }
    }
    expect(() => sut.checkStdio(stdio('npx'), undefined)).not.toThrow(); // missing caller = an admin key
    expect(() => sut.checkStdio(stdio('bash'), undefined)).toThrow(DomainError);
    expect(() => sut.checkStdio(remote('http://127.0.0.1/mcp'), 'admin')).not.toThrow();
  });
});
