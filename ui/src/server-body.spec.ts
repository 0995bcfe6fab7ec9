import { describe, expect, it } from 'vitest';
// The API's own request schemas (zod only): the bodies below are checked as the gateway checks them.
import { CreateServerRequest, UpdateServerRequest } from '../../libs/contracts/src/registry/servers.js';
import type { ServerView } from './api';
import { createBody, EMPTY_FORM, fromView, OAUTH_FIELDS, oauthFieldsFor, scopesOf, updateBody, type FormState } from './server-body';

const view = (over: Partial<ServerView> = {}): ServerView => ({
  server_id: 'id-1',
  server_name: 'jira',
  alias: null,
  description: null,
  url: 'https://jira.example.com/mcp',
  transport: 'http',
  command: null,
  args: [],
  env: {},
  auth_type: 'none',
  auth_value: null,
  static_headers: {},
  extra_headers: [],
  allowed_tools: null,
  disallowed_tools: null,
  access_groups: [],
  allow_all_keys: false,
  timeout: null,
  max_concurrent_requests: null,
  spec_version: null,
  source: 'api',
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
  ...over,
});

const machine = view({
  auth_type: 'oauth2',
  oauth2_flow: 'client_credentials',
  client_id: 'gateway',
  client_secret: '****6789',
  token_url: 'https://auth.example.com/token',
  authorization_url: null,
  scopes: ['read', 'write'],
  token_endpoint_auth_method: null,
  issuer: null,
  token_exchange_endpoint: null,
  audience: null,
  subject_token_type: null,
});

const form = (over: Partial<FormState>): FormState => ({ ...EMPTY_FORM, server_name: 'jira', url: 'https://jira.example.com/mcp', ...over });

describe('the OAuth fields that apply', () => {
  it('none without OAuth; authorization_url only for authorization_code; the RFC 8693 ones only for token exchange; no secret for a public client', () => {
    expect([...oauthFieldsFor(form({ auth_type: 'bearer_token' }))]).toEqual([]);
    const machineFields = oauthFieldsFor(form({ auth_type: 'oauth2', oauth2_flow: 'client_credentials' }));
    expect([...machineFields].sort()).toEqual(['client_id', 'client_secret', 'issuer', 'oauth2_flow', 'scopes', 'token_endpoint_auth_method', 'token_url']);
    expect(oauthFieldsFor(form({ auth_type: 'oauth2', oauth2_flow: 'authorization_code' })).has('authorization_url')).toBe(true);
    const exchange = oauthFieldsFor(form({ auth_type: 'oauth2_token_exchange', oauth2_flow: 'authorization_code' }));
    expect(exchange.has('token_exchange_endpoint') && exchange.has('audience') && exchange.has('subject_token_type')).toBe(true);
    expect(exchange.has('oauth2_flow') || exchange.has('authorization_url')).toBe(false);
    expect(oauthFieldsFor(form({ auth_type: 'oauth2', token_endpoint_auth_method: 'none' })).has('client_secret')).toBe(false);
  });

  it('reads scopes separated by spaces, commas or lines, once each', () => {
    expect(scopesOf(' read:jira-work, write\nread:jira-work  ')).toEqual(['read:jira-work', 'write']);
    expect(scopesOf('  ')).toEqual([]);
  });
});

describe('the create body', () => {
  it('sends the OAuth fields that apply and are filled in, scopes as a list, the secret as typed', () => {
    const body = createBody(
      form({
        auth_type: 'oauth2',
        oauth2_flow: 'client_credentials',
        client_id: ' gateway ',
        client_secret: ' s3cret ',
        token_url: 'https://auth.example.com/token',
        authorization_url: 'https://auth.example.com/authorize',
        audience: 'left over from another choice',
        scopes: 'read write',
        auth_value: 'a bearer token typed before switching',
      }),
    );
    expect(body).toMatchObject({ auth_type: 'oauth2', oauth2_flow: 'client_credentials', client_id: 'gateway', client_secret: ' s3cret ', token_url: 'https://auth.example.com/token', scopes: ['read', 'write'] });
    for (const field of ['authorization_url', 'audience', 'issuer', 'token_endpoint_auth_method', 'token_exchange_endpoint', 'subject_token_type', 'auth_value']) expect(body).not.toHaveProperty(field);
  });

  it('per user: the authorization URL; token exchange: its endpoint, audience and token type, no flow', () => {
    expect(createBody(form({ auth_type: 'oauth2', oauth2_flow: 'authorization_code', client_id: 'c', issuer: 'https://auth.example.com', authorization_url: 'https://auth.example.com/authorize' }))).toMatchObject({
      oauth2_flow: 'authorization_code',
      issuer: 'https://auth.example.com',
      authorization_url: 'https://auth.example.com/authorize',
    });
    const exchange = createBody(form({ auth_type: 'oauth2_token_exchange', client_id: 'c', token_exchange_endpoint: 'https://idp.example.com/token', audience: 'api://tools', subject_token_type: 'urn:x' }));
    expect(exchange).toMatchObject({ auth_type: 'oauth2_token_exchange', client_id: 'c', token_exchange_endpoint: 'https://idp.example.com/token', audience: 'api://tools', subject_token_type: 'urn:x' });
    expect(exchange).not.toHaveProperty('oauth2_flow');
  });

  it('sends no OAuth field for another auth type, and the credential as before', () => {
    const body = createBody(form({ auth_type: 'bearer_token', auth_value: 'tok', client_id: 'typed then abandoned', scopes: 'x' }));
    expect(body).toMatchObject({ auth_type: 'bearer_token', auth_value: 'tok' });
    expect(Object.keys(body).filter((k) => ['client_id', 'scopes', 'oauth2_flow', 'client_secret'].includes(k))).toEqual([]);
  });
});

describe('the update body', () => {
  it('round-trips a stored OAuth server: its settings sent back, the masked secret never, so the stored one is kept', () => {
    const loaded = fromView(machine);
    expect(loaded).toMatchObject({ auth_type: 'oauth2', oauth2_flow: 'client_credentials', client_id: 'gateway', client_secret: '', scopes: 'read write' });
    const body = updateBody({ ...loaded, description: 'edited' }, machine);
    expect(body).toMatchObject({ server_id: 'id-1', description: 'edited', auth_type: 'oauth2', oauth2_flow: 'client_credentials', client_id: 'gateway', token_url: 'https://auth.example.com/token', scopes: ['read', 'write'] });
    expect(body).not.toHaveProperty('client_secret');
    expect(JSON.stringify(body)).not.toContain('****');
    // emptied fields that apply are cleared; those that do not apply (and are not stored) are not sent
    expect(body).toMatchObject({ issuer: null, token_endpoint_auth_method: null });
    for (const field of ['authorization_url', 'token_exchange_endpoint', 'audience', 'subject_token_type', 'auth_value']) expect(body).not.toHaveProperty(field);
  });

  it('sends a secret typed again, and clears emptied scopes', () => {
    const body = updateBody({ ...fromView(machine), client_secret: 'new-secret', scopes: '' }, machine);
    expect(body).toMatchObject({ client_secret: 'new-secret', scopes: null });
  });

  it('clears what no longer applies: the authorization URL when the flow changes, the secret of a public client', () => {
    const personal = view({ ...machine, oauth2_flow: 'authorization_code', authorization_url: 'https://auth.example.com/authorize' });
    const body = updateBody({ ...fromView(personal), oauth2_flow: 'client_credentials' }, personal);
    expect(body).toMatchObject({ oauth2_flow: 'client_credentials', authorization_url: null });
    expect(body).not.toHaveProperty('client_secret');
    expect(updateBody({ ...fromView(personal), token_endpoint_auth_method: 'none' }, personal)).toMatchObject({ token_endpoint_auth_method: 'none', client_secret: null });
  });

  it('switching away from OAuth clears every stored OAuth field (the API refuses them with another auth type)', () => {
    const body = updateBody({ ...fromView(machine), auth_type: 'bearer_token', auth_value: 'tok' }, machine);
    expect(body).toMatchObject({ auth_type: 'bearer_token', auth_value: 'tok', oauth2_flow: null, client_id: null, client_secret: null, token_url: null, scopes: null });
    for (const field of ['issuer', 'authorization_url', 'audience']) expect(body).not.toHaveProperty(field);
    expect(updateBody({ ...fromView(machine), auth_type: 'none' }, machine)).toMatchObject({ client_secret: null, client_id: null });
  });

  it('switching to OAuth clears a stored static credential; switching between the OAuth types keeps the secret', () => {
    const bearer = view({ auth_type: 'bearer_token', auth_value: '****' });
    const body = updateBody({ ...fromView(bearer), auth_type: 'oauth2', client_id: 'c', client_secret: 's', token_url: 'https://auth.example.com/token' }, bearer);
    expect(body).toMatchObject({ auth_type: 'oauth2', auth_value: null, oauth2_flow: 'client_credentials', client_id: 'c', client_secret: 's' });
    const exchange = updateBody({ ...fromView(machine), auth_type: 'oauth2_token_exchange', token_exchange_endpoint: 'https://idp.example.com/token' }, machine);
    expect(exchange).toMatchObject({ auth_type: 'oauth2_token_exchange', oauth2_flow: null, token_exchange_endpoint: 'https://idp.example.com/token', audience: null });
    expect(exchange).not.toHaveProperty('client_secret');
  });

  it('a server without OAuth gets no OAuth field at all, and keeps its credential unless typed again', () => {
    const bearer = view({ auth_type: 'bearer_token', auth_value: '****' });
    const body = updateBody(fromView(bearer), bearer);
    expect(Object.keys(body).filter((k) => ['oauth2_flow', 'client_id', 'client_secret', 'token_url', 'authorization_url', 'scopes', 'token_endpoint_auth_method', 'issuer', 'token_exchange_endpoint', 'audience', 'subject_token_type', 'auth_value'].includes(k))).toEqual([]);
  });
});

describe('what the API makes of these bodies (its own schemas, and PUT’s rule: present replaces, null clears, absent keeps)', () => {
  /** The stored server as the registry holds it (the secret in clear), and how a PUT body changes it. */
  const storedMachine = { ...createBody(fromView(machine)), client_secret: 'machine-secret-0123456789' };
  const applyPut = (stored: Record<string, unknown>, body: Record<string, unknown>) => {
    const merged: Record<string, unknown> = { ...stored };
    for (const [key, value] of Object.entries(body)) {
      if (key === 'server_id') continue;
      if (value === null) delete merged[key];
      else merged[key] = value;
    }
    return merged;
  };

  it('accepts the create bodies of each OAuth choice', () => {
    for (const filled of [
      form({ auth_type: 'oauth2', oauth2_flow: 'client_credentials', client_id: 'c', client_secret: 's', token_url: 'https://auth.example.com/token', scopes: 'a b', audience: 'stale' }),
      form({ auth_type: 'oauth2', oauth2_flow: 'authorization_code', client_id: 'c', issuer: 'https://auth.example.com', token_endpoint_auth_method: 'none', client_secret: 'stale' }),
      form({ auth_type: 'oauth2_token_exchange', client_id: 'c', client_secret: 's', token_exchange_endpoint: 'https://idp.example.com/token', authorization_url: 'https://stale.example.com' }),
    ]) {
      const parsed = CreateServerRequest.safeParse(createBody(filled));
      expect(parsed.error?.issues ?? []).toEqual([]);
    }
  });

  it('an edit that leaves the secret empty keeps it; switching to a bearer token leaves no OAuth field behind', () => {
    const edited = updateBody({ ...fromView(machine), description: 'edited' }, machine);
    expect(UpdateServerRequest.safeParse(edited).success).toBe(true);
    const merged = applyPut(storedMachine, edited);
    expect(merged).toMatchObject({ description: 'edited', client_secret: 'machine-secret-0123456789', client_id: 'gateway' });
    expect(CreateServerRequest.safeParse(merged).success).toBe(true);

    const switched = updateBody({ ...fromView(machine), auth_type: 'bearer_token', auth_value: 'tok' }, machine);
    expect(UpdateServerRequest.safeParse(switched).success).toBe(true);
    const plain = applyPut(storedMachine, switched);
    expect(CreateServerRequest.safeParse(plain).error?.issues ?? []).toEqual([]);
    expect(Object.keys(plain).filter((k) => (OAUTH_FIELDS as readonly string[]).includes(k))).toEqual([]);
  });

  it('changing the flow to authorization_code needs an authorization URL or issuer: the API names the field', () => {
    const body = updateBody({ ...fromView(machine), oauth2_flow: 'authorization_code' }, machine);
    const issues = CreateServerRequest.safeParse(applyPut(storedMachine, body)).error?.issues ?? [];
    expect(issues.map((i) => i.path.join('.'))).toEqual(['authorization_url']);
  });
});
