import { describe, expect, it } from 'vitest';
import { ApiError, fieldsOf } from './api';

describe('fieldsOf: where the API says each message belongs', () => {
  it('takes details.fields of a body that failed validation, the first message per field', () => {
    const details = { fields: [{ path: 'url', message: 'expected an http(s) URL' }, { path: 'url', message: 'second' }, { path: 'object_permission.mcp_servers.0', message: 'no MCP server "x"' }] };
    expect(fieldsOf('url: expected an http(s) URL', details)).toEqual({ url: 'expected an http(s) URL', 'object_permission.mcp_servers.0': 'no MCP server "x"' });
  });

  it('takes details.field of a service rule, without repeating the field name', () => {
    expect(fieldsOf('team_alias: "a" is already used by another team', { field: 'team_alias' })).toEqual({ team_alias: '"a" is already used by another team' });
    expect(fieldsOf('server_name "ev" already exists', { field: 'server_name' })).toEqual({ server_name: 'server_name "ev" already exists' });
  });

  it('falls back to the `field: message` lines of the message, and to nothing', () => {
    expect(fieldsOf('duration: expected a duration\nrpm_limit: expected an integer', {})).toEqual({ duration: 'expected a duration', rpm_limit: 'expected an integer' });
    expect(fieldsOf('invalid API key', {})).toEqual({});
  });
});

describe('ApiError.field', () => {
  it('finds a message for a field or for a part of it', () => {
    const error = new ApiError(400, 'm', 'invalid_argument', { 'object_permission.mcp_servers.1': 'no MCP server "x"', url: 'bad' });
    expect(error.field('url')).toBe('bad');
    expect(error.field('object_permission.mcp_servers')).toBe('no MCP server "x"');
    expect(error.field('object_permission')).toBe('no MCP server "x"');
    expect(error.field('command')).toBeUndefined();
  });
});
