import { describe, expect, it } from 'vitest';
import { MemoryCounterStore } from '#libs/cache';
import { DomainError, MASTER_PRINCIPAL, type Principal } from '#libs/contracts';
import { RateLimiter } from '#libs/permissions';
import { countsAgainstRateLimit } from './api-key.guard.js';
import { UsageLimiter } from './usage-limiter.js';

const key = (fields: Partial<Principal>): Principal => ({ ...MASTER_PRINCIPAL, kind: 'virtual', token_hash: 'hash-1', key_alias: 'k', is_admin: false, ...fields });

describe('UsageLimiter', () => {
  const setup = () => new UsageLimiter(new RateLimiter(new MemoryCounterStore()));

  it('counts each request once against rpm_limit, and refuses the one over it with the retry time', async () => {
    const sut = setup();
    const principal = key({ rpm_limit: 2 });
    await sut.countRequest(principal);
    await sut.countRequest(principal);
    const error = await sut.countRequest(principal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'RATE_LIMITED', details: { limit_name: 'rpm_limit', level: 'key', limit: 2 } });
  });

  it('takes parallel slots without counting the request again', async () => {
    const sut = setup();
    const principal = key({ rpm_limit: 1, max_parallel_requests: 1 });
    await sut.countRequest(principal);
    const release = await sut.admit(principal); // the request's work: a slot, not a second rpm hit
    await expect(sut.admit(principal)).rejects.toMatchObject({ details: { limit_name: 'max_parallel_requests' } });
    release();
    await new Promise((r) => setImmediate(r));
    (await sut.admit(principal))();
    await expect(sut.countRequest(principal)).rejects.toMatchObject({ details: { limit_name: 'rpm_limit' } });
  });

  it('shares a team rpm_limit between its keys', async () => {
    const sut = setup();
    await sut.countRequest(key({ token_hash: 'a', team_id: 't', team_rpm_limit: 1 }));
    await expect(sut.countRequest(key({ token_hash: 'b', team_id: 't', team_rpm_limit: 1 }))).rejects.toMatchObject({ details: { level: 'team' } });
  });

  it('never limits the master key', async () => {
    const sut = setup();
    for (let i = 0; i < 5; i++) await sut.countRequest(MASTER_PRINCIPAL);
  });
});

describe('countsAgainstRateLimit', () => {
  it('counts /v1, the unversioned OpenAI aliases and /mcp-rest; not the management API', () => {
    for (const path of ['/v1/models', '/v1/chat/completions', '/v1/mcp/server', '/models', '/chat/completions', '/responses/resp_1', '/mcp-rest/tools/list', '/mcp-rest/tools/call']) {
      expect(countsAgainstRateLimit(path), path).toBe(true);
    }
    for (const path of ['/key/generate', '/team/list', '/organization/info', '/spend/logs', '/health/readiness', '/v1x', '/modelsx']) {
      expect(countsAgainstRateLimit(path), path).toBe(false);
    }
  });
});
