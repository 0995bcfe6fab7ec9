import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { loadGatewayConfig, parseGatewayConfig } from './gateway-config.js';

function problemsOf(document: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseGatewayConfig(document, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('parseGatewayConfig', () => {
  it('accepts the LiteLLM example and applies defaults', () => {
    const { config } = parseGatewayConfig(
      {
        mcp_servers: {
          deepwiki: { url: 'https://mcp.deepwiki.com/mcp', transport: 'http' },
          zapier: { url: 'https://actions.zapier.com/mcp/x/sse' },
          local_files: { transport: 'stdio', command: 'npx', args: ['-y', 'server'], env: { LOG_LEVEL: 'info' } },
        },
      },
      {},
    );
    expect(config.mcp_servers.zapier!.transport).toBeUndefined(); // the registry infers it from the URL (SPEC section 2)
    expect(config.mcp_servers.deepwiki!.allow_all_keys).toBe(false);
    expect(config.mcp_servers.local_files!.args).toEqual(['-y', 'server']);
  });

  it('resolves os.environ/NAME anywhere, and names a missing variable by key path', () => {
    const { config } = parseGatewayConfig(
      { mcp_servers: { gh: { url: 'https://x/mcp', transport: 'http', auth_type: 'bearer_token', auth_value: 'os.environ/GH_TOKEN' } }, general_settings: { master_key: 'os.environ/MK' } },
      { GH_TOKEN: 'ghp_secret', MK: 'sk-master' },
    );
    expect(config.mcp_servers.gh!.auth_value).toBe('ghp_secret');
    expect(config.general_settings.master_key).toBe('sk-master');
    expect(problemsOf({ general_settings: { master_key: 'os.environ/NOPE' } })).toEqual([
      'general_settings.master_key: environment variable NOPE is not set',
    ]);
  });

  it('gives one line per problem naming the key path and what was expected', () => {
    const problems = problemsOf({
      mcp_servers: {
        github: { url: 'https://x/mcp', transport: 'htp' },
        stdio_one: { transport: 'stdio' },
        'Bad-Name': { url: 'https://x' },
        t: { url: 'https://x', timeout: 'soon', typo_key: 1 },
      },
    });
    expect(problems).toContain('mcp_servers.github.transport: expected one of sse | http | stdio, got "htp"');
    expect(problems).toContain('mcp_servers.stdio_one.command: required when transport is stdio');
    expect(problems.some((p) => p.startsWith('mcp_servers.Bad-Name: server names may use lowercase'))).toBe(true);
    expect(problems).toContain('mcp_servers.t.timeout: expected number, got "soon"');
    expect(problems).toContain('mcp_servers.t: unknown key "typo_key"');
  });

  it('rejects unknown top-level keys but accepts LiteLLM keys it does not implement, naming them', () => {
    expect(problemsOf({ mcp_serverz: {} })).toEqual(['unknown key "mcp_serverz"']);
    const { ignoredKeys } = parseGatewayConfig({ litellm_settings: { drop_params: true }, general_settings: { store_model_in_db: true }, mcp_servers: { a: { url: 'https://x', mcp_info: {} } } }, {});
    expect(ignoredKeys).toEqual(['litellm_settings', 'general_settings.store_model_in_db', 'mcp_servers.a.mcp_info']);
  });

  it('rejects allowed_tools together with disallowed_tools', () => {
    expect(problemsOf({ mcp_servers: { a: { url: 'https://x', allowed_tools: ['x'], disallowed_tools: ['y'] } } })).toEqual([
      'mcp_servers.a.disallowed_tools: set allowed_tools or disallowed_tools, not both',
    ]);
  });

  it('treats an empty file as an empty config and rejects a non-mapping', () => {
    expect(parseGatewayConfig(null, {}).config.mcp_servers).toEqual({});
    expect(problemsOf(['a'])).toEqual(['config: expected a mapping at the top level']);
  });

  it('refuses upstream URLs that are not http(s) or that point at refused addresses, naming the server', () => {
    expect(problemsOf({ mcp_servers: { a: { url: 'ftp://example.com/mcp' } } })).toEqual(['mcp_servers.a.url: expected an http(s) URL']);
    expect(problemsOf({ mcp_servers: { meta: { url: 'http://169.254.169.254/latest', transport: 'http' } } })).toEqual([
      'mcp_servers.meta.url: 169.254.169.254 is a link-local (cloud metadata) address: always refused',
    ]);
    // private and loopback addresses are allowed by default ...
    expect(problemsOf({ mcp_servers: { local: { url: 'http://127.0.0.2:9/mcp' } } })).toEqual([]);
    // ... and refusable, with holes punched by mcp_allowed_ip_ranges
    const general_settings = { mcp_blocked_ip_ranges: ['127.0.0.0/8', '::1/128'], mcp_allowed_ip_ranges: ['127.0.0.1'] };
    expect(problemsOf({ general_settings, mcp_servers: { local: { url: 'http://127.0.0.2:9/mcp' }, v6: { url: 'http://[::1]:9/sse' } } })).toEqual([
      'mcp_servers.local.url: 127.0.0.2 is in general_settings.mcp_blocked_ip_ranges (127.0.0.0/8)',
      'mcp_servers.v6.url: ::1 is in general_settings.mcp_blocked_ip_ranges (::1/128)',
    ]);
    expect(problemsOf({ general_settings, mcp_servers: { hole: { url: 'http://127.0.0.1:9/mcp' } } })).toEqual([]);
  });

  it('validates the upstream settings of general_settings', () => {
    const { config } = parseGatewayConfig(
      { general_settings: { mcp_blocked_ip_ranges: ['10.0.0.0/8'], mcp_allowed_ip_ranges: ['10.1.2.0/24'], mcp_stdio_allowed_commands: ['npx', '/usr/bin/uvx'] } },
      {},
    );
    expect(config.general_settings.mcp_stdio_allowed_commands).toEqual(['npx', '/usr/bin/uvx']);
    expect(problemsOf({ general_settings: { mcp_blocked_ip_ranges: ['10.0.0.0/8', 'intranet'], mcp_allowed_ip_ranges: '10.1.2.0/24' } })).toEqual([
      'general_settings.mcp_blocked_ip_ranges.1: expected a CIDR range like 10.0.0.0/8 or fd00::/8, got "intranet"',
      'general_settings.mcp_allowed_ip_ranges: expected array, got "10.1.2.0/24"',
    ]);
  });

  it('prints the whole YAML syntax error: message, line and column, and the offending line under a caret', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-config-'));
    try {
      const path = join(dir, 'config.yaml');
      writeFileSync(path, 'mcp_servers:\n  a:\n    url: http://127.0.0.1:1/mcp\n  b: [1, 2\nmodel_list: []\n');
      let problems: string[] = [];
      try {
        loadGatewayConfig(path, {});
      } catch (error) {
        problems = (error as ConfigError).problems;
      }
      expect(problems).toHaveLength(1);
      const [first, ...rest] = problems[0]!.split('\n');
      expect(first).toBe(`config: ${path} is not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 5, column 1:`);
      // the offending lines follow, indented alike, with the caret under the column
      expect(rest).toEqual(['      b: [1, 2', '    model_list: []', '    ^']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
