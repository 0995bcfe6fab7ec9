import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { parseGatewayConfig } from './gateway-config.js';

function problemsOf(document: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseGatewayConfig(document, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

const jwt = (litellm_jwtauth: unknown, extra: Record<string, unknown> = {}) => ({ general_settings: { enable_jwt_auth: true, litellm_jwtauth, ...extra } });

describe('general_settings.enable_jwt_auth and litellm_jwtauth', () => {
  it('accepts issuers with LiteLLM field names and applies the defaults', () => {
    const { config } = parseGatewayConfig(
      jwt(
        {
          issuers: [
            { issuer: 'https://idp.example.com/realms/a', jwks_url: 'https://idp.example.com/realms/a/certs', audience: 'switchboard', team_id_jwt_field: 'groups', team_alias_map: { engineering: 'team-eng' } },
            { issuer: 'http://127.0.0.1:9000', team_alias_jwt_field: 'realm_access.team', org_id_jwt_field: 'org', algorithms: ['ES256'], required_scopes: ['mcp:admin'] },
          ],
          required_scopes: ['mcp:tools'],
        },
        { public_base_url: 'https://gateway.example.com/base' },
      ),
      {},
    );
    const settings = config.general_settings;
    expect(settings.enable_jwt_auth).toBe(true);
    expect(settings.public_base_url).toBe('https://gateway.example.com/base');
    expect(settings.litellm_jwtauth).toMatchObject({ required_scopes: ['mcp:tools'], scopes_supported: [], leeway_seconds: 30, public_key_ttl: 600, jwks_refetch_cooldown_seconds: 30 });
    expect(settings.litellm_jwtauth!.issuers[0]).toMatchObject({ user_id_jwt_field: 'sub', team_id_jwt_field: 'groups', audience: 'switchboard' });
    expect(settings.litellm_jwtauth!.issuers[1]).toMatchObject({ team_alias_jwt_field: 'realm_access.team', algorithms: ['ES256'] });
  });

  it('takes an introspection client for opaque tokens (secret from the environment, 60 s cache by default) and names its problems', () => {
    const { config } = parseGatewayConfig(
      jwt({ issuers: [{ issuer: 'https://idp.example.com', introspection: { client_id: 'switchboard', client_secret: 'os.environ/INTROSPECTION_SECRET' } }] }),
      { INTROSPECTION_SECRET: 's3cret-value' },
    );
    expect(config.general_settings.litellm_jwtauth!.issuers[0]!.introspection).toEqual({ client_id: 'switchboard', client_secret: 's3cret-value', cache_seconds: 60 });
    expect(problemsOf(jwt({ issuers: [{ issuer: 'https://idp.example.com', introspection: { url: 'nope', cache_seconds: -1 } }] }))).toEqual([
      'general_settings.litellm_jwtauth.issuers.0.introspection.url: expected an http(s) URL',
      'general_settings.litellm_jwtauth.issuers.0.introspection.client_id: required (expected string)',
      'general_settings.litellm_jwtauth.issuers.0.introspection.cache_seconds: Too small: expected number to be >=0',
    ]);
  });

  it('resolves os.environ/ references inside litellm_jwtauth', () => {
    const { config } = parseGatewayConfig(jwt({ issuers: [{ issuer: 'os.environ/IDP', audience: 'os.environ/AUD' }] }), { IDP: 'https://idp.example.com', AUD: 'gw' });
    expect(config.general_settings.litellm_jwtauth!.issuers[0]).toMatchObject({ issuer: 'https://idp.example.com', audience: 'gw' });
    expect(problemsOf(jwt({ issuers: [{ issuer: 'os.environ/MISSING_IDP' }] }))).toContain(
      'general_settings.litellm_jwtauth.issuers.0.issuer: environment variable MISSING_IDP is not set',
    );
  });

  it('names each problem by its key path', () => {
    expect(problemsOf({ general_settings: { enable_jwt_auth: true } })).toEqual([
      'general_settings.litellm_jwtauth: required when enable_jwt_auth is true (issuers: [{ issuer, jwks_url?, audience?, … }])',
    ]);
    expect(problemsOf(jwt({ issuers: [] }))).toEqual(['general_settings.litellm_jwtauth.issuers: expected at least one issuer']);
    const problems = problemsOf(
      jwt({
        issuers: [
          { issuer: 'ftp://idp', jwks_url: 'nope' },
          { issuer: 'https://a.example.com', team_id_jwt_field: 'team', team_alias_jwt_field: 'team_name' },
          { issuer: 'https://a.example.com', team_alias_map: { x: 'y' }, tenant: 1, algorithms: ['HS256'] },
          { issuer: 'https://b.example.com', algorithms: ['none'] },
        ],
        required_scopes: ['has space'],
      }),
    );
    expect(problems).toContain('general_settings.litellm_jwtauth.issuers.0.issuer: expected an http(s) URL');
    expect(problems).toContain('general_settings.litellm_jwtauth.issuers.0.jwks_url: expected an http(s) URL');
    expect(problems).toContain('general_settings.litellm_jwtauth.issuers.1.team_alias_jwt_field: set one of team_id_jwt_field, team_ids_jwt_field or team_alias_jwt_field');
    expect(problems.some((p) => p.startsWith('general_settings.litellm_jwtauth.issuers.2.algorithms.0: expected one of RS256'))).toBe(true);
    expect(problems.some((p) => p.startsWith('general_settings.litellm_jwtauth.issuers.3.algorithms.0: expected one of RS256'))).toBe(true);
    expect(problems).toContain('general_settings.litellm_jwtauth.issuers.2: unknown key "tenant"');
    expect(problems).toContain('general_settings.litellm_jwtauth.required_scopes.0: expected a scope token (no spaces, quotes or backslashes)');
  });

  it('refuses duplicate issuers, an alias map without its claim, a base URL with a query', () => {
    expect(problemsOf(jwt({ issuers: [{ issuer: 'https://a.example.com' }, { issuer: 'https://a.example.com' }] }))).toEqual([
      'general_settings.litellm_jwtauth.issuers.1.issuer: https://a.example.com is listed twice',
    ]);
    expect(problemsOf(jwt({ issuers: [{ issuer: 'https://a.example.com', team_alias_map: { x: 'y' } }] }))).toEqual([
      'general_settings.litellm_jwtauth.issuers.0.team_alias_map: needs team_id_jwt_field, team_ids_jwt_field or team_alias_jwt_field (the claim whose values it maps)',
    ]);
    expect(problemsOf({ general_settings: { public_base_url: 'https://gw.example.com/?x=1' } })[0]).toMatch(/^general_settings.public_base_url: expected a base URL without query/);
  });

  it('refuses issuer and JWKS URLs at always-refused or blocked addresses; loopback is allowed', () => {
    expect(problemsOf(jwt({ issuers: [{ issuer: 'https://idp.example.com', jwks_url: 'http://169.254.169.254/keys' }] }))).toEqual([
      'general_settings.litellm_jwtauth.issuers.0.jwks_url: 169.254.169.254 is a link-local (cloud metadata) address: always refused',
    ]);
    expect(problemsOf(jwt({ issuers: [{ issuer: 'http://10.1.2.3:8080' }] }, { mcp_blocked_ip_ranges: ['10.0.0.0/8'] }))).toEqual([
      'general_settings.litellm_jwtauth.issuers.0.issuer: 10.1.2.3 is in general_settings.mcp_blocked_ip_ranges (10.0.0.0/8)',
    ]);
    expect(problemsOf(jwt({ issuers: [{ issuer: 'http://127.0.0.1:8080', jwks_url: 'http://127.0.0.1:8080/jwks' }] }))).toEqual([]);
  });

  it('accepts the LiteLLM keys it does not implement, naming them; refuses disable_audience_validation', () => {
    const { ignoredKeys, config } = parseGatewayConfig(jwt({ user_id_upsert: true, issuers: [{ issuer: 'https://a.example.com', team_ids_jwt_field: 'groups', user_email_jwt_field: 'email' }] }), {});
    expect(ignoredKeys).toEqual(['general_settings.litellm_jwtauth.user_id_upsert', 'general_settings.litellm_jwtauth.issuers.0.user_email_jwt_field']);
    expect(config.general_settings.litellm_jwtauth!.issuers[0]!.team_ids_jwt_field).toBe('groups');
    expect(problemsOf(jwt({ issuers: [{ issuer: 'https://a.example.com', disable_audience_validation: true }] }))).toEqual([
      'general_settings.litellm_jwtauth.issuers.0.disable_audience_validation: is not supported: the audience of tokens is always checked (the endpoint URI, or audience)',
    ]);
  });

  it('keeps litellm_jwtauth inert without enable_jwt_auth', () => {
    const { config } = parseGatewayConfig({ general_settings: { litellm_jwtauth: { issuers: [{ issuer: 'https://a.example.com' }] } } }, {});
    expect(config.general_settings.enable_jwt_auth).toBeUndefined();
  });
});
