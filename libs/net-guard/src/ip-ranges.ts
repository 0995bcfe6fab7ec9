import { BlockList, isIP } from 'node:net';

/** One CIDR range (or a single address), with the text it was written as for messages. */
export interface IpRange {
  text: string;
  family: 'ipv4' | 'ipv6';
  list: BlockList;
}

/**
 * Addresses no upstream URL may reach, whatever the config says: link-local (169.254.0.0/16 holds the cloud
 * metadata endpoint of AWS, GCP, Azure and others), other clouds' metadata endpoints, the unspecified address
 * (0.0.0.0 reaches this host on Linux), multicast and broadcast.
 */
const ALWAYS_REFUSED: readonly (readonly [range: string, what: string])[] = [
  ['169.254.0.0/16', 'link-local (cloud metadata)'],
  ['fe80::/10', 'link-local'],
  ['fd00:ec2::254/128', 'cloud metadata (AWS)'],
  ['100.100.100.200/32', 'cloud metadata (Alibaba Cloud)'],
  ['168.63.129.16/32', 'cloud platform endpoint (Azure)'],
  ['0.0.0.0/8', 'unspecified'],
  ['::/128', 'unspecified'],
  ['224.0.0.0/4', 'multicast'],
  ['ff00::/8', 'multicast'],
  ['240.0.0.0/4', 'reserved or broadcast'],
];

/** Parses `10.0.0.0/8`, `fd00::/8` or a single address; anything else gives the problem as a string. */
export function parseIpRange(text: string): IpRange | string {
  const trimmed = text.trim();
  const [address = '', prefix, ...rest] = trimmed.split('/');
  const version = isIP(address);
  const max = version === 6 ? 128 : 32;
  const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  if (!version || rest.length > 0 || !(bits >= 0 && bits <= max)) {
    return `expected a CIDR range like 10.0.0.0/8 or fd00::/8, got ${JSON.stringify(text)}`;
  }
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const list = new BlockList();
  list.addSubnet(address, bits, family);
  return { text: trimmed, family, list };
}

/** Parses every range; a bad one throws (config validation reports them with their key path first). */
export function parseIpRanges(texts: readonly string[] = []): IpRange[] {
  return texts.map((text) => {
    const range = parseIpRange(text);
    if (typeof range === 'string') throw new Error(range);
    return range;
  });
}

const HEX_PAIR = '([0-9a-f]{1,4}):([0-9a-f]{1,4})';
/** IPv6 forms that carry an IPv4 address: IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d). */
const EMBEDDED_IPV4 = [new RegExp(`^::ffff:${HEX_PAIR}$`), new RegExp(`^64:ff9b::${HEX_PAIR}$`)];

/**
 * An address as it should be checked: brackets dropped, IPv6 written the one canonical way, and an IPv4
 * address embedded in IPv6 taken out (so `[::ffff:169.254.169.254]` is checked as 169.254.169.254).
 * Undefined when `text` is not an IP address.
 */
export function canonicalAddress(text: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const version = isIP(bare);
  if (version === 4) return { address: bare, family: 'ipv4' };
  if (version !== 6) return undefined;
  const canonical = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  for (const pattern of EMBEDDED_IPV4) {
    const match = pattern.exec(canonical);
    if (match) {
      const high = parseInt(match[1]!, 16);
      const low = parseInt(match[2]!, 16);
      return { address: [high >> 8, high & 255, low >> 8, low & 255].join('.'), family: 'ipv4' };
    }
  }
  return { address: canonical, family: 'ipv6' };
}

export function findRange(ranges: readonly IpRange[], address: { address: string; family: 'ipv4' | 'ipv6' }): IpRange | undefined {
  return ranges.find((range) => range.family === address.family && range.list.check(address.address, address.family));
}

const ALWAYS_REFUSED_RANGES = ALWAYS_REFUSED.map(([text, what]) => ({ range: parseIpRanges([text])[0]!, what }));

/** What kind of always-refused address this is ("link-local (cloud metadata)"), or undefined. */
export function alwaysRefusedKind(address: { address: string; family: 'ipv4' | 'ipv6' }): string | undefined {
  return ALWAYS_REFUSED_RANGES.find(({ range }) => findRange([range], address))?.what;
}
