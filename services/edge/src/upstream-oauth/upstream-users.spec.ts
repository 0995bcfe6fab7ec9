import { describe, expect, it } from 'vitest';
import { MASTER_PRINCIPAL, type Principal } from '#libs/contracts';
import type { EdgeSettings } from '../edge-settings.js';
import { clientOf, UpstreamUsers } from './upstream-users.js';

const key: Principal = { ...MASTER_PRINCIPAL, kind: 'virtual', token_hash: 'a'.repeat(64), key_alias: 'laptop', user_id: 'alice', is_admin: false };
const signedIn: Principal = { ...key, token_hash: 'b'.repeat(64), key_alias: 'oauth:alice', oauth_issuer: 'https://idp.example.com' };
const users = new UpstreamUsers({ file: { config: { general_settings: { public_base_url: 'https://gw.example.com/' } } } } as unknown as EdgeSettings);

describe('UpstreamUsers', () => {
  it('names a key as its own client, and the master key as "master"', () => {
    expect(users.of(key, {})).toEqual({ user_id: 'alice', client_id: 'a'.repeat(64), client_name: 'laptop', gateway_url: 'https://gw.example.com' });
    expect(users.of(MASTER_PRINCIPAL, {})).toMatchObject({ user_id: 'master', client_id: 'master' });
  });

  it("names an OAuth sign-in's client per OAuth client of that user: another app of the same user is another client", () => {
    const desktop = users.of({ ...signedIn, oauth_client_id: 'desktop-app' }, {})!;
    const ide = users.of({ ...signedIn, oauth_client_id: 'ide-plugin' }, {})!;
    expect(desktop.user_id).toBe('alice');
    expect(desktop.client_id).not.toBe(ide.client_id);
    expect(desktop.client_id).toMatch(/^[0-9a-f]{64}$/);
    expect(desktop.client_name).toBe('desktop-app (oauth:alice)');
    // the same app for another user is another client too
    expect(clientOf({ ...signedIn, token_hash: 'c'.repeat(64), oauth_client_id: 'desktop-app' })).not.toBe(desktop.client_id);
    // a token naming no client: the user's sign-in as a whole, as before
    expect(users.of(signedIn, {})!.client_id).toBe('b'.repeat(64));
  });
});
