import { describe, expect, it } from 'vitest';
import { DomainError, toErrorEnvelope } from './errors.js';
import { unreachableBackend } from './infrastructure-errors.js';

describe('errors of a backing service that cannot be reached', () => {
  it('cross the bus as a retryable UPSTREAM_UNAVAILABLE naming no address', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const envelope = toErrorEnvelope(refused);
    expect(envelope).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
    expect(envelope.message).not.toContain('127.0.0.1');
  });

  it('are found in what the driver wraps, and by the SQLSTATEs of a server going away', () => {
    expect(unreachableBackend({ message: 'query failed', driverError: { code: '57P01' } })).toBe('57P01');
    expect(unreachableBackend({ message: 'x', cause: { code: '08006' } })).toBe('08006');
    expect(unreachableBackend(new Error('Connection terminated unexpectedly'))).toBe('connection lost');
  });

  it('a value the database will not store (SQLSTATE class 22) is the caller\'s bad input, not an internal error', () => {
    const nul = { message: 'unsupported Unicode escape sequence', driverError: { code: '22P05' } };
    expect(toErrorEnvelope(nul)).toMatchObject({ code: 'INVALID_ARGUMENT', retryable: false, details: { sqlstate: '22P05' } });
    expect(toErrorEnvelope({ message: 'date/time field value out of range', code: '22008' }).code).toBe('INVALID_ARGUMENT');
  });

  it('leave every other error as it was', () => {
    expect(unreachableBackend(new Error('boom'))).toBeUndefined();
    expect(unreachableBackend({ code: '23505' })).toBeUndefined();
    expect(toErrorEnvelope(new TypeError('boom'))).toEqual({ code: 'INTERNAL', message: 'boom', retryable: false });
    expect(toErrorEnvelope(new DomainError('NOT_FOUND', 'gone')).code).toBe('NOT_FOUND');
  });
});
