import * as http from 'http';
import { AddressInfo } from 'net';
import { addressKey, clientAddress } from '../client-address';

describe('clientAddress', () => {
  let server: http.Server;
  let port: number;
  const seen: Array<{ one: string; two: string; none: string }> = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push({ one: clientAddress(req, 1), two: clientAddress(req, 2), none: clientAddress(req, 0) });
      res.end();
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise(resolve => server.close(resolve)));

  async function ask(forwardedFor?: string) {
    await fetch(`http://127.0.0.1:${port}/`, { headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } });
    return seen[seen.length - 1];
  }

  test('takes the entry the nearest trusted proxy appended; entries further left are the client\'s own word', async () => {
    expect(await ask('198.51.100.9, 203.0.113.7')).toEqual({ one: '203.0.113.7', two: '198.51.100.9', none: '127.0.0.1' });
    // A client that forges the header cannot pick the address one trusted proxy reports.
    expect(await ask('1.2.3.4, 5.6.7.8, 203.0.113.7')).toEqual({ one: '203.0.113.7', two: '5.6.7.8', none: '127.0.0.1' });
    // Fewer entries than trusted proxies (a request that did not come through them): the socket's address.
    expect(await ask('203.0.113.7')).toEqual({ one: '203.0.113.7', two: '127.0.0.1', none: '127.0.0.1' });
    expect(await ask()).toEqual({ one: '127.0.0.1', two: '127.0.0.1', none: '127.0.0.1' });
  });
});

describe('addressKey', () => {
  test.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff:1:2:3', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('%s counts as %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
});
