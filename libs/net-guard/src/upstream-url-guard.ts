import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { alwaysRefusedKind, canonicalAddress, findRange, parseIpRanges, type IpRange } from './ip-ranges.js';

/** general_settings.mcp_blocked_ip_ranges and mcp_allowed_ip_ranges (CIDR ranges or single addresses). */
export interface IpRangeRules {
  blocked?: readonly string[];
  allowed?: readonly string[];
}

/** Host name → its addresses. The system's resolver by default; tests pass a stub so that nothing is looked up. */
export type HostResolver = (hostname: string) => Promise<string[]>;

export const systemResolver: HostResolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

export type RefusalReason = 'not_http' | 'always_refused' | 'blocked';

/** An upstream URL that may not be used. `message` says why in words meant for the person who configured it. */
export class UpstreamUrlRefused extends Error {
  constructor(
    message: string,
    readonly reason: RefusalReason,
    readonly address?: string,
  ) {
    super(message);
    this.name = 'UpstreamUrlRefused';
  }
}

export interface CheckedUrl {
  url: URL;
  /** The addresses checked: the literal, or what the name resolved to (empty when it did not resolve). */
  addresses: string[];
  /** Set when the name could not be resolved: not a refusal (the connection itself will fail or be checked). */
  unresolved?: string;
}

/** Node's `lookup` option of net.connect and http.request. */
type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

const DEFAULT_RESOLVE_TIMEOUT_MS = 5_000;

/**
 * Decides whether an upstream MCP URL may be reached (SPEC section 2): http(s) only; link-local and cloud
 * metadata addresses always refused; addresses in the blocked ranges refused unless an allowed range covers them;
 * everything else (private and loopback included) allowed. Host names are resolved and every address they
 * resolve to must pass. The same rules serve the registry (when a URL is stored) and the connector (right before
 * it connects, through `lookup`, so that a DNS change after registration cannot get around them).
 */
export class UpstreamUrlGuard {
  private readonly blocked: IpRange[];
  private readonly allowed: IpRange[];

  constructor(
    readonly rules: IpRangeRules = {},
    private readonly resolver: HostResolver = systemResolver,
    private readonly resolveTimeoutMs = DEFAULT_RESOLVE_TIMEOUT_MS,
  ) {
    this.blocked = parseIpRanges(rules.blocked);
    this.allowed = parseIpRanges(rules.allowed);
  }

  /** Why an address may not be reached (`host` names the URL's host name when it differs), or undefined. */
  refusalOf(address: string, host?: string): UpstreamUrlRefused | undefined {
    const canonical = canonicalAddress(address);
    if (!canonical) return new UpstreamUrlRefused(`${JSON.stringify(address)} is not an IP address`, 'always_refused', address);
    const subject = host && host !== address ? `${host} resolves to ${address}, which` : address;
    const kind = alwaysRefusedKind(canonical);
    if (kind) return new UpstreamUrlRefused(`${subject} is a ${kind} address: always refused`, 'always_refused', address);
    const blocked = findRange(this.blocked, canonical);
    if (blocked && !findRange(this.allowed, canonical)) {
      return new UpstreamUrlRefused(`${subject} is in general_settings.mcp_blocked_ip_ranges (${blocked.text})`, 'blocked', address);
    }
    return undefined;
  }

  /**
   * What can be decided without DNS: the scheme, and the address when the host is an IP literal. Throws
   * UpstreamUrlRefused; returns the parsed URL and the host name still to resolve (undefined for a literal).
   */
  checkLiteral(url: string | URL): { url: URL; hostname: string | undefined } {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UpstreamUrlRefused(`expected an http(s) URL, got ${JSON.stringify(String(url))}`, 'not_http');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new UpstreamUrlRefused(`expected an http(s) URL, got a ${parsed.protocol.slice(0, -1)} URL`, 'not_http');
    }
    const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
    if (!isIP(host)) return { url: parsed, hostname: host };
    const refusal = this.refusalOf(host);
    if (refusal) throw refusal;
    return { url: parsed, hostname: undefined };
  }

  /** checkLiteral, then every address a host name resolves to. Throws UpstreamUrlRefused. */
  async check(url: string | URL): Promise<CheckedUrl> {
    const { url: parsed, hostname } = this.checkLiteral(url);
    if (hostname === undefined) return { url: parsed, addresses: [parsed.hostname.replace(/^\[|\]$/g, '')] };
    let addresses: string[];
    try {
      addresses = await this.resolve(hostname);
    } catch (error) {
      return { url: parsed, addresses: [], unresolved: `${hostname} did not resolve (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
    }
    this.assertAllowed(hostname, addresses);
    return { url: parsed, addresses };
  }

  /**
   * A `lookup` for net.connect / http.Agent: resolves through the resolver and refuses (fails the connection)
   * when any address is refused, so the address connected to is always one that was checked.
   */
  readonly lookup: LookupFunction = (hostname: string, options: LookupOptions | number | LookupCallback, callback?: LookupCallback): void => {
    const done = (typeof options === 'function' ? options : callback)!;
    const opts: LookupOptions = typeof options === 'object' ? options : typeof options === 'number' ? { family: options } : {};
    this.resolve(hostname)
      .then((addresses) => {
        this.assertAllowed(hostname, addresses);
        const family = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : opts.family;
        const usable = addresses.map((address) => ({ address, family: isIP(address) })).filter((a) => !family || a.family === family);
        if (usable.length === 0) throw Object.assign(new Error(`${hostname} has no IPv${family} address`), { code: 'ENOTFOUND' });
        if (opts.all) done(null, usable);
        else done(null, usable[0]!.address, usable[0]!.family);
      })
      .catch((error: NodeJS.ErrnoException) => done(error, ''));
  };

  private assertAllowed(hostname: string, addresses: readonly string[]): void {
    for (const address of addresses) {
      const refusal = this.refusalOf(address, hostname);
      if (refusal) throw refusal;
    }
  }

  private async resolve(hostname: string): Promise<string[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${this.resolveTimeoutMs} ms`), { code: 'ETIMEOUT' })), this.resolveTimeoutMs);
      timer.unref();
    });
    try {
      const addresses = await Promise.race([this.resolver(hostname), timeout]);
      if (addresses.length === 0) throw Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
      return addresses;
    } finally {
      clearTimeout(timer);
    }
  }
}
