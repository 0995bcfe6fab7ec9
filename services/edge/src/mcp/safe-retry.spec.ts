import { describe, expect, it } from 'vitest';
import { DomainError } from '#libs/contracts';
import { repeatableAfterLoss } from './safe-retry.js';

const lost = new DomainError('UPSTREAM_UNAVAILABLE', 'the replica answering UpstreamRequest stopped responding', { callee_lost: true }, true);
const request = (method: string, extra: Record<string, unknown> = {}) => ({ server_id: 's', method, params: {}, ...extra }) as never;

describe('repeatableAfterLoss', () => {
  it('sends a read lost with its connector once more', () => {
    for (const method of ['resources/read', 'prompts/get', 'tools/list', 'completion/complete']) expect(repeatableAfterLoss(request(method), lost)).toBe(true);
    expect(repeatableAfterLoss(request('resources/read'), new DomainError('UPSTREAM_UNAVAILABLE', 'lost', { stream_lost: true }))).toBe(true);
  });

  it('never a tool call, a parked call continued, a subscription, or another failure', () => {
    expect(repeatableAfterLoss(request('tools/call'), lost)).toBe(false);
    expect(repeatableAfterLoss(request('resources/subscribe'), lost)).toBe(false);
    expect(repeatableAfterLoss(request('prompts/get', { resume: { park_id: 'p', responses: {} } }), lost)).toBe(false);
    expect(repeatableAfterLoss(request('resources/read'), new DomainError('UPSTREAM_UNAVAILABLE', 'upstream down'))).toBe(false);
    expect(repeatableAfterLoss(request('resources/read'), new DomainError('UPSTREAM_TIMEOUT', 'slow'))).toBe(false);
  });
});
