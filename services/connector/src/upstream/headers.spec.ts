import { describe, expect, it } from 'vitest';
import { buildServerHeaders, mergeHeaders } from './headers.js';

const server = (auth_type: 'none' | 'api_key' | 'bearer_token' | 'basic' | 'authorization', auth_value: string | null, static_headers = {}) => ({
  auth_type,
  auth_value,
  static_headers,
});

describe('buildServerHeaders', () => {
  it('sends a bearer token', () => {
    expect(buildServerHeaders(server('bearer_token', 'tok'))).toEqual({ authorization: 'Bearer tok' });
  });

  it('base64-encodes user:pass for basic and keeps an encoded value as is', () => {
    expect(buildServerHeaders(server('basic', 'user:pass'))).toEqual({ authorization: `Basic ${Buffer.from('user:pass').toString('base64')}` });
    expect(buildServerHeaders(server('basic', 'dXNlcjpwYXNz'))).toEqual({ authorization: 'Basic dXNlcjpwYXNz' });
  });

  it('sends an api key as X-API-Key and a raw authorization value unchanged', () => {
    expect(buildServerHeaders(server('api_key', 'k1'))).toEqual({ 'x-api-key': 'k1' });
    expect(buildServerHeaders(server('authorization', 'Token abc'))).toEqual({ authorization: 'Token abc' });
  });

  it('sends nothing for none or an empty value', () => {
    expect(buildServerHeaders(server('none', 'ignored'))).toEqual({});
    expect(buildServerHeaders(server('bearer_token', null))).toEqual({});
  });

  it('adds static headers, lower-cased, which may override the auth header', () => {
    expect(buildServerHeaders(server('bearer_token', 't', { 'X-Env': 'prod' }))).toEqual({ authorization: 'Bearer t', 'x-env': 'prod' });
    expect(buildServerHeaders(server('bearer_token', 't', { Authorization: 'Custom' }))).toEqual({ authorization: 'Custom' });
  });
});

describe('mergeHeaders', () => {
  it('lets per-request headers win case-insensitively', () => {
    expect(mergeHeaders({ authorization: 'Bearer server' }, { Authorization: 'Bearer client', 'X-Request-Source': 'ui' })).toEqual({
      authorization: 'Bearer client',
      'x-request-source': 'ui',
    });
  });

  it('never lets a client set transport headers', () => {
    expect(mergeHeaders({}, { 'Mcp-Session-Id': 'evil', host: 'x', 'content-length': '1', 'x-ok': 'y' })).toEqual({ 'x-ok': 'y' });
  });

  it('returns the base unchanged without extras', () => {
    const base = { a: '1' };
    expect(mergeHeaders(base, undefined)).toBe(base);
  });
});
