import { createHash, createHmac } from 'crypto';
import { record, streamEvent } from './events';
import { FakeOpenSearch, useFakeOpenSearchPair, RecordedRequest, TEST_CREDENTIALS, TEST_REGION } from './fake-opensearch';
import { createIndexer } from '../../src/indexer/runtime/indexer';
import { OpenSearchClient, OpenSearchClientOptions } from '../../src/indexer/runtime/opensearch-client';

// SigV4 against the fake's verifier, which re-signs what arrived on the wire with the known credentials.
// The negative cases show the verifier really refuses what AWS would refuse.

const fakes = useFakeOpenSearchPair();

function client(fake: FakeOpenSearch, options: OpenSearchClientOptions = {}, service = fake.service): OpenSearchClient {
  return new OpenSearchClient(
    { endpoint: fake.endpoint, service, region: TEST_REGION, index: 'messages' },
    { credentials: TEST_CREDENTIALS, retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 }, ...options },
  );
}

/**
 * The signature computed by hand from the SigV4 specification (node:crypto only), an independent check
 * that the client and the fake, both built on @smithy/signature-v4, do not share a mistake.
 */
function specSignature(req: RecordedRequest, service: string): string {
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(String(req.headers.authorization))![1].split(';');
  const amzDate = String(req.headers['x-amz-date']);
  const rfc3986 = (v: string) => encodeURIComponent(v).replace(/[!'()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const canonicalRequest = [
    req.method,
    req.path.split('/').map(rfc3986).join('/'), // non-S3 services: the (already encoded) path is encoded again
    Object.entries(req.query).map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).sort().join('&'),
    signedHeaders.map(h => `${h}:${String(req.headers[h]).trim()}\n`).join(''),
    signedHeaders.join(';'),
    createHash('sha256').update(req.body).digest('hex'),
  ].join('\n');
  const scope = `${amzDate.slice(0, 8)}/${TEST_REGION}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  let key: Buffer = Buffer.from(`AWS4${TEST_CREDENTIALS.secretAccessKey}`);
  for (const part of [amzDate.slice(0, 8), TEST_REGION, service, 'aws4_request']) {
    key = createHmac('sha256', key).update(part).digest();
  }
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

const receivedSignature = (req: RecordedRequest) => /Signature=([0-9a-f]{64})$/.exec(String(req.headers.authorization))![1];

/** A fetch that changes the request after it was signed. */
function tamper(change: (url: string, init: RequestInit) => [string, RequestInit]): typeof fetch {
  return (input, init) => fetch(...change(String(input), { ...init! }));
}

describe.each(['aoss', 'es'] as const)('requests signed for %s', service => {
  test('are accepted by the verifying endpoint, with x-amz-content-sha256 and the session token signed', async () => {
    const fake = service === 'aoss' ? fakes.aoss : fakes.es;
    const indexer = createIndexer(
      { endpoint: fake.endpoint, service, region: TEST_REGION, index: 'messages', documentId: ['room', 'message'], fields: [{ name: 'text', type: 'text' }] },
      { credentials: TEST_CREDENTIALS, log: () => undefined },
    );
    await expect(indexer(streamEvent(record('INSERT', { room: 'r', message: 'm', text: 'hi' })))).resolves.toEqual({ batchItemFailures: [] });

    expect(fake.requests.map(r => [r.method, r.path, r.status, r.rejected])).toEqual([
      ['PUT', '/messages', 200, undefined],
      ['POST', '/messages/_bulk', 200, undefined],
    ]);
    for (const req of fake.requests) {
      expect(req.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${TEST_CREDENTIALS.accessKeyId}/\\d{8}/${TEST_REGION}/${service}/aws4_request, `));
      expect(req.headers.authorization).toMatch(/SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/);
      expect(req.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(req.body).digest('hex'));
      expect(receivedSignature(req)).toBe(specSignature(req, service));
    }
  });
});

describe('the verifier', () => {
  test('accepts a signed query string (the unknown route answers 404, not 403)', async () => {
    const res = await client(fakes.aoss).request({ method: 'GET', path: '/_cluster/health', query: { 'level': 'indices', 'odd key': "a/b c*(')" } });
    expect(res.status).toBe(404);
    expect(fakes.aoss.requests[0].query).toEqual({ 'level': 'indices', 'odd key': "a/b c*(')" });
    expect(fakes.aoss.requests[0].rejected).toBeUndefined();
    expect(receivedSignature(fakes.aoss.requests[0])).toBe(specSignature(fakes.aoss.requests[0], 'aoss'));
  });

  test('refuses a body changed after signing (x-amz-content-sha256 no longer matches)', async () => {
    const c = client(fakes.aoss, { fetch: tamper((url, init) => [url, { ...init, body: `${init.body} ` }]) });
    const res = await c.request({ method: 'PUT', path: '/messages', json: { mappings: {} } });
    expect(res.status).toBe(403);
    expect(res.attempts).toBe(1); // 403 is not retried
    expect(fakes.aoss.requests[0].rejected).toMatch(/x-amz-content-sha256/);
    expect(fakes.aoss.indices.size).toBe(0);
  });

  test('refuses a changed body even when x-amz-content-sha256 is updated to match it', async () => {
    const c = client(fakes.aoss, {
      fetch: tamper((url, init) => {
        const body = '{"mappings":{"properties":{"evil":{"type":"keyword"}}}}';
        const headers = { ...(init.headers as Record<string, string>), 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex') };
        return [url, { ...init, body, headers }];
      }),
    });
    expect((await c.request({ method: 'PUT', path: '/messages', json: { mappings: {} } })).status).toBe(403);
    expect(fakes.aoss.requests[0].rejected).toMatch(/signature we calculated does not match/);
  });

  test('refuses a changed path', async () => {
    const c = client(fakes.aoss, { fetch: tamper((url, init) => [url.replace('/messages', '/other'), init]) });
    expect((await c.request({ method: 'PUT', path: '/messages', json: {} })).status).toBe(403);
    expect(fakes.aoss.requests[0].rejected).toMatch(/signature we calculated does not match/);
  });

  test('refuses a request signed for the other service', async () => {
    expect((await client(fakes.aoss, {}, 'es').request({ method: 'PUT', path: '/messages', json: {} })).status).toBe(403);
    expect(fakes.aoss.requests[0].rejected).toBe('credential scope names service es, this endpoint is aoss');
    expect((await client(fakes.es, {}, 'aoss').request({ method: 'PUT', path: '/messages', json: {} })).status).toBe(403);
    expect(fakes.es.requests[0].rejected).toBe('credential scope names service aoss, this endpoint is es');
  });

  test('refuses a wrong secret key and a missing session token', async () => {
    const wrongSecret = client(fakes.aoss, { credentials: { ...TEST_CREDENTIALS, secretAccessKey: 'not-the-secret' } });
    expect((await wrongSecret.request({ method: 'PUT', path: '/messages', json: {} })).status).toBe(403);
    expect(fakes.aoss.requests[0].rejected).toMatch(/signature we calculated does not match/);

    const { accessKeyId, secretAccessKey } = TEST_CREDENTIALS;
    const noToken = client(fakes.aoss, { credentials: { accessKeyId, secretAccessKey } });
    expect((await noToken.request({ method: 'PUT', path: '/messages', json: {} })).status).toBe(403);
    expect(fakes.aoss.requests[1].rejected).toMatch(/x-amz-security-token/);
  });
});
