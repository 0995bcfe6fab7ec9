import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamUrlGuard } from '#libs/net-guard';
import { startAuthorizationServer, type AuthorizationServer } from '../../../../test/fixtures/authorization-server.js';
import { AccessTokenVerifier, looksLikeJwt, scopesOf } from './access-tokens.js';
import { guardedJsonFetcher } from './guarded-fetch.js';
import { InvalidToken, KeysUnavailable } from './issuer-keys.js';
import type { IssuerPolicy, ResourceServerSettings } from './resource-settings.js';
import { JWT_ALGORITHMS } from '#libs/config';

const RESOURCE = 'http://127.0.0.1:4000/mcp';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function policy(issuer: string, overrides: Partial<IssuerPolicy> = {}): IssuerPolicy {
  return { issuer, audiences: [], algorithms: [...JWT_ALGORITHMS], userField: 'sub', teamAliasMap: {}, organizationAliasMap: {}, requiredScopes: [], ...overrides };
}

function settings(issuers: IssuerPolicy[], overrides: Partial<ResourceServerSettings> = {}): ResourceServerSettings {
  return { enabled: true, issuers, challengeScopes: [], scopesSupported: [], leewaySeconds: 5, publicKeyTtlMs: 600_000, refetchCooldownMs: 30_000, addressRules: {}, ...overrides };
}

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidToken);
  return (error as InvalidToken).message;
}

describe('AccessTokenVerifier against the test authorization server', () => {
  let as: AuthorizationServer;
  let other: AuthorizationServer;
  const fetchJson = guardedJsonFetcher(new UpstreamUrlGuard({}));
  beforeAll(async () => {
    [as, other] = await Promise.all([startAuthorizationServer(), startAuthorizationServer({ alg: 'ES256' })]);
  });
  afterAll(async () => {
    await Promise.all([as?.close(), other?.close()]);
  });

  const verifier = (overrides: Partial<IssuerPolicy> = {}, s: Partial<ResourceServerSettings> = {}, now?: () => number) =>
    new AccessTokenVerifier(settings([policy(as.issuer, { jwksUrl: as.jwksUri, ...overrides }), policy(other.issuer)], s), fetchJson, now);

  it('accepts a token of a configured issuer for the endpoint, reading scopes; discovers the JWKS from metadata when no jwks_url', async () => {
    const token = await as.sign({ sub: 'alice', aud: RESOURCE, scope: 'mcp:tools mcp:read' });
    const verified = await verifier().verify(token, [RESOURCE]);
    expect(verified.claims.sub).toBe('alice');
    expect(verified.scopes).toEqual(['mcp:tools', 'mcp:read']);
    // the other server is ES256 and has no jwks_url configured: its RFC 8414 metadata names the JWKS
    const esToken = await other.sign({ sub: 'bob', aud: [RESOURCE, 'x'], scp: ['a', 'b'] });
    const v = verifier();
    expect((await v.verify(esToken, [RESOURCE])).scopes).toEqual(['a', 'b']);
    expect(v.keyFetches()[other.issuer]).toBe(1);
  });

  it('accepts a configured audience besides the endpoint, and never one learned from earlier tokens', async () => {
    const token = await as.sign({ sub: 'alice', aud: 'switchboard' });
    const v = verifier({ audiences: ['switchboard'] });
    await v.verify(token, [RESOURCE]);
    const elsewhere = await as.sign({ sub: 'alice', aud: 'http://127.0.0.1:4000/mcp/other' });
    expect(await reasonOf(v.verify(elsewhere, [RESOURCE]))).toBe('the token is not meant for this resource (audience)');
    expect(await reasonOf(v.verify(elsewhere, [RESOURCE]))).toBe('the token is not meant for this resource (audience)'); // still
  });

  it('refuses a wrong issuer, an expired token, one not yet valid, one without exp', async () => {
    const v = verifier();
    expect(await reasonOf(v.verify(await as.sign({ sub: 'a', aud: RESOURCE, iss: 'https://evil.example.com' }), [RESOURCE]))).toBe('the token is not from a trusted issuer');
    expect(await reasonOf(v.verify(await as.sign({ sub: 'a', aud: RESOURCE }, { expiresIn: -60 }), [RESOURCE]))).toBe('the token has expired');
    await v.verify(await as.sign({ sub: 'a', aud: RESOURCE }, { expiresIn: -2 }), [RESOURCE]); // within the leeway
    const now = Math.floor(Date.now() / 1000);
    expect(await reasonOf(v.verify(await as.sign({ sub: 'a', aud: RESOURCE, nbf: now + 600 }), [RESOURCE]))).toBe('the token is not valid yet');
    expect(await reasonOf(v.verify(await as.sign({ sub: 'a', aud: RESOURCE, exp: undefined }), [RESOURCE]))).toBe('the token has no expiry');
    // signed by another trusted issuer's key while claiming this one
    const forged = await other.sign({ sub: 'a', aud: RESOURCE, iss: as.issuer }, { header: { kid: as.kid() } });
    expect(await reasonOf(v.verify(forged, [RESOURCE]))).toMatch(/algorithm|key|signature/);
  });

  it('refuses alg none, HS256 signed with the issuer’s RSA public key (HS/RS confusion), an algorithm off the allow-list', async () => {
    const v = verifier();
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: as.issuer, sub: 'mallory', aud: RESOURCE, iat: now, exp: now + 600, scope: 'mcp:tools' };
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    expect(looksLikeJwt(none)).toBe(true);
    expect(await reasonOf(v.verify(none, [RESOURCE]))).toBe('the token is signed with an algorithm that is not accepted');

    const publicPem = createPublicKey({ key: as.publicJwk() as JsonWebKey, format: 'jwk' }).export({ format: 'pem', type: 'spki' });
    for (const secret of [Buffer.from(publicPem), Buffer.from(JSON.stringify(as.publicJwk()))]) {
      const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: as.kid() }).sign(new Uint8Array(secret));
      expect(await reasonOf(v.verify(confused, [RESOURCE]))).toBe('the token is signed with an algorithm that is not accepted');
    }
    const rsOnly = verifier({ algorithms: ['ES256'] });
    expect(await reasonOf(rsOnly.verify(await as.sign({ sub: 'a', aud: RESOURCE }), [RESOURCE]))).toBe('the token is signed with an algorithm that is not accepted');
    // a header naming RS256 over an EC key's set: no key fits
    const mismatched = await other.sign({ sub: 'a', aud: RESOURCE }, { header: {} });
    const tampered = [b64({ alg: 'RS256', kid: other.kid() }), ...mismatched.split('.').slice(1)].join('.');
    expect(await reasonOf(v.verify(tampered, [RESOURCE]))).toMatch(/key/);
  });

  it('refuses a bad signature and garbage', async () => {
    const v = verifier();
    const token = await as.sign({ sub: 'a', aud: RESOURCE });
    const [h, p] = token.split('.');
    const other = await as.sign({ sub: 'b', aud: RESOURCE });
    expect(await reasonOf(v.verify(`${h}.${p}.${other.split('.')[2]}`, [RESOURCE]))).toBe('the token signature is invalid');
    expect(await reasonOf(v.verify('not.a.jwt', [RESOURCE]))).toBe('the token is not a well-formed JWT');
    expect(looksLikeJwt('sk-1234')).toBe(false);
    expect(looksLikeJwt('a.b.c')).toBe(false);
  });

  it('refetches the key set for a new kid (rotation), at most once per cool-down for unknown ones', async () => {
    let clock = Date.now();
    const v = verifier({}, { refetchCooldownMs: 30_000 }, () => clock);
    await v.verify(await as.sign({ sub: 'a', aud: RESOURCE }), [RESOURCE]);
    expect(v.keyFetches()[as.issuer]).toBe(1);

    // made-up kids: one refetch, then none while cooling down
    const fakeKid = async (kid: string) => as.sign({ sub: 'a', aud: RESOURCE }, { header: { kid } });
    expect(await reasonOf(v.verify(await fakeKid('nope-1'), [RESOURCE]))).toBe('the token names a key the issuer does not publish');
    clock += 31_000;
    expect(await reasonOf(v.verify(await fakeKid('nope-2'), [RESOURCE]))).toBe('the token names a key the issuer does not publish');
    const fetched = v.keyFetches()[as.issuer]!;
    expect(fetched).toBe(2);
    await Promise.all(['n3', 'n4', 'n5'].map(async (kid) => reasonOf(v.verify(await fakeKid(kid), [RESOURCE]))));
    expect(v.keyFetches()[as.issuer]).toBe(fetched);

    // a rotation: the new kid is fetched once the cool-down allows, without a restart
    await as.rotateKeys();
    const rotated = await as.sign({ sub: 'a', aud: RESOURCE });
    expect(await reasonOf(v.verify(rotated, [RESOURCE]))).toBe('the token names a key the issuer does not publish');
    clock += 31_000;
    await v.verify(rotated, [RESOURCE]);
    expect(v.keyFetches()[as.issuer]).toBe(fetched + 1);
  });

  it('answers KeysUnavailable (not invalid_token) when the issuer’s keys cannot be fetched; refuses a JWKS at a refused address', async () => {
    const unreachable = new AccessTokenVerifier(settings([policy(as.issuer, { jwksUrl: 'http://127.0.0.1:1/jwks' })]), fetchJson);
    const token = await as.sign({ sub: 'a', aud: RESOURCE });
    await expect(unreachable.verify(token, [RESOURCE])).rejects.toBeInstanceOf(KeysUnavailable);
    const refused = new AccessTokenVerifier(settings([policy(as.issuer, { jwksUrl: 'http://169.254.169.254/jwks' })]), fetchJson);
    await expect(refused.verify(token, [RESOURCE])).rejects.toThrow(/always refused/);
    const blocked = new AccessTokenVerifier(settings([policy(as.issuer, { jwksUrl: as.jwksUri })]), guardedJsonFetcher(new UpstreamUrlGuard({ blocked: ['127.0.0.0/8'] })));
    await expect(blocked.verify(token, [RESOURCE])).rejects.toThrow(/mcp_blocked_ip_ranges/);
  });

  it('reads scope and scp', () => {
    expect(scopesOf({ scope: 'a  b' })).toEqual(['a', 'b']);
    expect(scopesOf({ scp: 'a' })).toEqual(['a']);
    expect(scopesOf({})).toEqual([]);
  });
});
