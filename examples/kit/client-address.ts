import type { IncomingMessage } from 'http';
import { isIPv6 } from 'net';

/**
 * The client's address: the entry the nearest of our `trustedProxies` appended to X-Forwarded-For (ALB = 1,
 * CloudFront + ALB = 2), else the socket's. Entries further left are the client's own word and are ignored.
 */
export function clientAddress(req: IncomingMessage, trustedProxies: number): string {
  const forwarded = String(req.headers['x-forwarded-for'] ?? '').split(',').map(s => s.trim()).filter(Boolean);
  if (trustedProxies > 0 && forwarded.length >= trustedProxies) {
    return forwarded[forwarded.length - trustedProxies];
  }
  return req.socket.remoteAddress ?? 'unknown';
}

/**
 * What per-address limits count on: an IPv4 address as it is, an IPv6 address by its /64 prefix (one
 * subscriber's network usually gets a whole /64, so counting single addresses would let one person use
 * billions), an IPv4-mapped IPv6 address as IPv4.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) {
    return mapped[1];
  }
  if (!isIPv6(address)) {
    return address;
  }
  const [head, tail = ''] = address.split('%')[0].toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = address.includes('::') && tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map(g => parseInt(g, 16).toString(16)).join(':')}::/64`;
}
