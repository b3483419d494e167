import * as http from 'http';
import { isIPv6 } from 'net';

/**
 * The client's address: the entry our trusted proxies appended to X-Forwarded-For (CloudFront and the
 * load balancer each append one), else the socket's. Entries further left are the client's own claims.
 */
export function clientAddress(req: http.IncomingMessage, trustedProxies: number): string {
  const forwarded = String(req.headers['x-forwarded-for'] ?? '').split(',').map(s => s.trim()).filter(Boolean);
  if (trustedProxies > 0 && forwarded.length >= trustedProxies) {
    return forwarded[forwarded.length - trustedProxies];
  }
  return req.socket.remoteAddress ?? 'unknown';
}

/**
 * What per-address limits count on: an IPv4 address as it is, an IPv6 address by its /64 (one subscriber
 * usually gets a whole /64, so single addresses would give one person billions), IPv4-mapped IPv6 as IPv4.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) {
    return mapped[1];
  }
  const bare = address.split('%')[0].toLowerCase();
  if (!isIPv6(bare)) {
    return address;
  }
  const [head, tail = ''] = bare.split('::');
  const left = head ? head.split(':') : [];
  const right = bare.includes('::') && tail ? tail.split(':') : [];
  const groups = bare.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map(g => parseInt(g, 16).toString(16)).join(':')}::/64`;
}
