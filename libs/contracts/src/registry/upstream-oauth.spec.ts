import { describe, expect, it } from 'vitest';
import { formatZodIssues } from '../errors.js';
import { CreateServerRequest, McpServerSpec } from './servers.js';

// The OAuth keys of a server definition (SPEC section 2): which go together, and what each auth_type needs.

const problems = (spec: Record<string, unknown>) => {
  const result = McpServerSpec.safeParse({ url: 'https://mcp.example.com/mcp', ...spec });
  return result.success ? '' : formatZodIssues(result.error.issues);
};

describe('OAuth keys of an MCP server', () => {
  it('accepts LiteLLM’s oauth2 flows and token exchange', () => {
    expect(problems({ auth_type: 'oauth2', oauth2_flow: 'client_credentials', client_id: 'c', client_secret: 's', token_url: 'https://as.example.com/token', scopes: ['a', 'b'] })).toBe('');
    expect(problems({ auth_type: 'oauth2', oauth2_flow: 'authorization_code', client_id: 'c', issuer: 'https://as.example.com' })).toBe('');
    expect(problems({ auth_type: 'oauth2', oauth2_flow: 'authorization_code', client_id: 'c', authorization_url: 'https://as.example.com/a', token_url: 'https://as.example.com/t', token_endpoint_auth_method: 'none' })).toBe('');
    expect(problems({ auth_type: 'oauth2_token_exchange', client_id: 'c', client_secret: 's', token_exchange_endpoint: 'https://idp.example.com/token', audience: 'api://x', subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' })).toBe('');
  });

  it('names what each one is missing', () => {
    expect(problems({ auth_type: 'oauth2', client_id: 'c', token_url: 'https://as.example.com/t' })).toBe('oauth2_flow: required with auth_type oauth2: client_credentials or authorization_code');
    expect(problems({ auth_type: 'oauth2', oauth2_flow: 'client_credentials', client_secret: 's', token_url: 'https://as.example.com/t' })).toBe('client_id: required with auth_type oauth2');
    expect(problems({ auth_type: 'oauth2', oauth2_flow: 'client_credentials', client_id: 'c', token_url: 'https://as.example.com/t' })).toBe('client_secret: required with oauth2_flow client_credentials');
    expect(problems({ auth_type: 'oauth2', oauth2_flow: 'authorization_code', client_id: 'c', token_url: 'https://as.example.com/t' })).toBe('authorization_url: required with oauth2_flow authorization_code (or issuer)');
    expect(problems({ auth_type: 'oauth2', oauth2_flow: 'client_credentials', client_id: 'c', client_secret: 's' })).toBe('token_url: required with oauth2_flow client_credentials (or issuer)');
    expect(problems({ auth_type: 'oauth2_token_exchange', client_id: 'c' })).toBe('token_exchange_endpoint: required with auth_type oauth2_token_exchange (or issuer)');
    expect(problems({ auth_type: 'oauth2', oauth2_flow: 'authorization_code', client_id: 'c', issuer: 'https://as.example.com', token_endpoint_auth_method: 'client_secret_post' })).toBe(
      'client_secret: required with token_endpoint_auth_method client_secret_post',
    );
  });

  it('refuses OAuth keys on another auth_type, an OAuth stdio server and URLs that are not http(s)', () => {
    expect(problems({ auth_type: 'bearer_token', auth_value: 't', client_id: 'c' })).toBe('client_id: only with auth_type oauth2 or oauth2_token_exchange (auth_type is bearer_token)');
    expect(problems({ token_url: 'https://as.example.com/t' })).toBe('token_url: only with auth_type oauth2 or oauth2_token_exchange (auth_type is none)');
    expect(McpServerSpec.safeParse({ transport: 'stdio', command: 'npx', auth_type: 'oauth2', oauth2_flow: 'client_credentials', client_id: 'c', client_secret: 's', token_url: 'https://a/t' }).success).toBe(false);
    expect(problems({ auth_type: 'oauth2', oauth2_flow: 'authorization_code', client_id: 'c', issuer: 'ftp://as.example.com' })).toContain('issuer: expected an http(s) URL');
  });

  it('takes the same keys in the admin API’s create body', () => {
    const body = CreateServerRequest.parse({ server_name: 'jira', url: 'https://mcp.example.com/mcp', auth_type: 'oauth2', oauth2_flow: 'authorization_code', client_id: 'c', client_secret: 's', issuer: 'https://as.example.com' });
    expect(body).toMatchObject({ client_id: 'c', client_secret: 's', oauth2_flow: 'authorization_code' });
  });
});
