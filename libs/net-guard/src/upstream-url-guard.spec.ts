import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalAddress, parseIpRange } from './ip-ranges.js';
import { UpstreamUrlGuard, UpstreamUrlRefused, type HostResolver } from './upstream-url-guard.js';

/** A resolver that knows a few names and never asks DNS; it records what it was asked. */
function stubResolver(names: Record<string, string[]>): HostResolver & { asked: string[] } {
  const asked: string[] = [];
  const resolver = async (hostname: string) => {
    asked.push(hostname);
    const addresses = names[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses;
  };
  return Object.assign(resolver, { asked });
}

async function refusalOf(promise: Promise<unknown>): Promise<UpstreamUrlRefused> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(UpstreamUrlRefused);
  return error as UpstreamUrlRefused;
}

describe('parseIpRange and canonicalAddress', () => {
  it('accepts CIDR ranges and single addresses, and names what is wrong with anything else', () => {
    expect(parseIpRange('10.0.0.0/8')).toMatchObject({ text: '10.0.0.0/8', family: 'ipv4' });
    expect(parseIpRange(' fd00::/8 ')).toMatchObject({ text: 'fd00::/8', family: 'ipv6' });
    expect(parseIpRange('127.0.0.1')).toMatchObject({ family: 'ipv4' });
    for (const bad of ['10.0.0.0/33', 'example.com/8', '10.0.0/8', '10.0.0.0/8/1', '::/129', '10.0.0.0/-1', '']) {
      expect(parseIpRange(bad)).toMatch(/^expected a CIDR range/);
    }
  });

  it('takes IPv4 out of IPv4-mapped and NAT64 IPv6 forms', () => {
    expect(canonicalAddress('[::ffff:169.254.169.254]')).toEqual({ address: '169.254.169.254', family: 'ipv4' });
    expect(canonicalAddress('::ffff:a9fe:a9fe')).toEqual({ address: '169.254.169.254', family: 'ipv4' });
    expect(canonicalAddress('64:ff9b::7f00:1')).toEqual({ address: '127.0.0.1', family: 'ipv4' });
    expect(canonicalAddress('FD00:EC2:0:0:0:0:0:254')).toEqual({ address: 'fd00:ec2::254', family: 'ipv6' });
    expect(canonicalAddress('example.com')).toBeUndefined();
  });
});

describe('UpstreamUrlGuard', () => {
  const noDns = stubResolver({});

  it('accepts http and https only', async () => {
    const sut = new UpstreamUrlGuard({}, noDns);
    for (const url of ['ftp://127.0.0.1/mcp', 'file:///etc/passwd', 'gopher://127.0.0.1:70/', 'not a url']) {
      expect((await refusalOf(sut.check(url))).reason).toBe('not_http');
    }
    expect(sut.checkLiteral('https://127.0.0.1:8443/mcp').hostname).toBeUndefined();
  });

  it('always refuses link-local and cloud metadata addresses, in every spelling, whatever the allowed ranges say', async () => {
    const sut = new UpstreamUrlGuard({ allowed: ['0.0.0.0/0', '::/0'] }, noDns);
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://2852039166/', // 169.254.169.254 as one decimal number
      'http://0xa9.0xfe.0xa9.0xfe/',
      'http://[::ffff:169.254.169.254]/',
      'http://[fe80::1]:8080/mcp',
      'http://[fd00:ec2::254]/',
      'http://100.100.100.200/',
      'http://0.0.0.0:8080/mcp',
      'http://[::]/',
    ]) {
      const refusal = await refusalOf(sut.check(url));
      expect(refusal.reason, url).toBe('always_refused');
      expect(refusal.message, url).toMatch(/always refused/);
    }
    expect((await refusalOf(sut.check('http://169.254.169.254/'))).message).toBe('169.254.169.254 is a link-local (cloud metadata) address: always refused');
    expect(noDns.asked).toEqual([]); // literals are never looked up
  });

  it('allows private and loopback addresses by default', async () => {
    const sut = new UpstreamUrlGuard({}, noDns);
    for (const url of ['http://127.0.0.1:3000/mcp', 'http://[::1]/mcp', 'http://10.1.2.3/sse', 'https://192.168.0.10/mcp', 'http://172.16.0.1/']) {
      await expect(sut.check(url)).resolves.toMatchObject({ addresses: [expect.any(String)] });
    }
  });

  it('refuses the blocked ranges, except where an allowed range punches a hole', async () => {
    const sut = new UpstreamUrlGuard({ blocked: ['127.0.0.0/8', '::1/128', '10.0.0.0/8'], allowed: ['10.1.2.0/24'] }, noDns);
    const refusal = await refusalOf(sut.check('http://127.0.0.2:9/mcp'));
    expect(refusal).toMatchObject({ reason: 'blocked', message: '127.0.0.2 is in general_settings.mcp_blocked_ip_ranges (127.0.0.0/8)' });
    expect((await refusalOf(sut.check('http://[::1]:9/mcp'))).reason).toBe('blocked');
    expect((await refusalOf(sut.check('http://[::ffff:127.0.0.1]:9/mcp'))).reason).toBe('blocked');
    expect((await refusalOf(sut.check('http://10.9.9.9/mcp'))).reason).toBe('blocked');
    await expect(sut.check('http://10.1.2.3/mcp')).resolves.toBeDefined();
    await expect(sut.check('http://192.168.1.1/mcp')).resolves.toBeDefined();
  });

  it('resolves host names and refuses a name when any of its addresses is refused', async () => {
    const resolver = stubResolver({
      'metadata.google.internal': ['169.254.169.254'],
      'intranet.corp': ['10.0.0.5'],
      'mixed.corp': ['192.168.1.1', '10.0.0.6'],
      'public.test': ['203.0.113.7'],
    });
    const sut = new UpstreamUrlGuard({ blocked: ['10.0.0.0/8'] }, resolver);
    expect(await refusalOf(sut.check('http://metadata.google.internal/computeMetadata/v1/'))).toMatchObject({
      reason: 'always_refused',
      message: 'metadata.google.internal resolves to 169.254.169.254, which is a link-local (cloud metadata) address: always refused',
    });
    expect((await refusalOf(sut.check('https://intranet.corp/mcp'))).message).toBe(
      'intranet.corp resolves to 10.0.0.5, which is in general_settings.mcp_blocked_ip_ranges (10.0.0.0/8)',
    );
    expect((await refusalOf(sut.check('https://mixed.corp/mcp'))).address).toBe('10.0.0.6');
    await expect(sut.check('https://public.test/mcp')).resolves.toMatchObject({ addresses: ['203.0.113.7'] });
    expect(resolver.asked).toEqual(['metadata.google.internal', 'intranet.corp', 'mixed.corp', 'public.test']);
  });

  it('does not refuse a name that does not resolve (the connection is checked again when it is made)', async () => {
    const sut = new UpstreamUrlGuard({ blocked: ['0.0.0.0/0'] }, stubResolver({}));
    await expect(sut.check('https://nowhere.invalid/mcp')).resolves.toMatchObject({ addresses: [], unresolved: expect.stringContaining('ENOTFOUND') });
    const hanging = new UpstreamUrlGuard({}, () => new Promise(() => undefined), 20);
    await expect(hanging.check('https://slow.test/mcp')).resolves.toMatchObject({ unresolved: expect.stringContaining('ETIMEOUT') });
  });

  describe('lookup (for the connection itself)', () => {
    let server: Server;
    let port: number;
    afterAll(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

    async function get(guard: UpstreamUrlGuard, url: string): Promise<string> {
      const { request } = await import('node:http');
      return new Promise((done, fail) => {
        // agent: false: a fresh connection (and lookup) per request, as a new upstream session gets
        const req = request(url, { lookup: guard.lookup, agent: false }, (res) => {
          res.resume();
          res.on('end', () => done(String(res.statusCode)));
        });
        req.on('error', fail);
        req.end();
      });
    }

    it('connects to the checked address of a name, and fails the connection when the name now resolves to a refused one', async () => {
      let hits = 0;
      server = createServer((_req, res) => {
        hits++;
        res.end('ok');
      });
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      port = (server.address() as AddressInfo).port;
      const names: Record<string, string[]> = { 'upstream.test': ['127.0.0.1'] };
      const sut = new UpstreamUrlGuard({ blocked: ['10.0.0.0/8'] }, async (host) => names[host] ?? []);
      expect(await get(sut, `http://upstream.test:${port}/`)).toBe('200');
      expect(hits).toBe(1);
      // The name now points somewhere refused: the connection fails before any socket is opened.
      names['upstream.test'] = ['169.254.169.254'];
      await expect(get(sut, `http://upstream.test:${port}/`)).rejects.toThrow(/169\.254\.169\.254.*always refused/);
      names['upstream.test'] = ['10.2.3.4'];
      await expect(get(sut, `http://upstream.test:${port}/`)).rejects.toThrow(/mcp_blocked_ip_ranges/);
      expect(hits).toBe(1);
    });
  });
});
