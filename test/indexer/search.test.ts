import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { httpEvent } from './events';
import { FakeOpenSearch, TEST_CREDENTIALS, TEST_REGION } from './fake-opensearch';
import type { SearchConfig } from '../../src/indexer/runtime/config';
import { createSearch, SearchDeps } from '../../src/indexer/runtime/search';
import { handler } from '../../src/indexer/search.lambda';

// The search function against the signature-checking stand-in for OpenSearch.

let fake: FakeOpenSearch;

beforeAll(async () => {
  fake = await FakeOpenSearch.start({ service: 'aoss' });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
});

const CONFIG: Omit<SearchConfig, 'endpoint'> = {
  service: 'aoss',
  region: TEST_REGION,
  index: 'messages',
  queryFields: [{ name: 'text', type: 'search_as_you_type' }, { name: 'author', type: 'keyword' }],
  filterFields: ['room'],
  maxLimit: 50,
  defaultLimit: 20,
  maxQueryLength: 200,
};

function search(overrides: Partial<SearchConfig> = {}, deps: SearchDeps = {}) {
  return createSearch(
    { ...CONFIG, endpoint: fake.endpoint, ...overrides },
    { credentials: TEST_CREDENTIALS, retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 }, log: () => undefined, ...deps },
  );
}

function json(res: APIGatewayProxyStructuredResultV2): any {
  expect(res.headers).toMatchObject({ 'content-type': 'application/json', 'cache-control': 'no-store' });
  return JSON.parse(res.body!);
}

/** An index with a few documents, as the indexer leaves it. */
function seed(): void {
  fake.indices.set('messages', {
    mappings: {},
    createBody: {},
    docs: new Map<string, Record<string, unknown>>([
      ['general:m1', { text: 'hello world', room: 'general', author: 'ann' }],
      ['general:m2', { text: 'help wanted', room: 'general', author: 'bob' }],
      ['random:m3', { text: 'hello random', room: 'random', author: 'cid' }],
    ]),
  });
}

describe('validation', () => {
  const long = (n: number) => 'x'.repeat(n);
  test.each([
    ['missing q', '', 'q is required'],
    ['blank q', 'q=%20%20', 'q must not be empty'],
    ['q too long', `q=${long(201)}`, 'q must be at most 200 characters'],
    ['limit 0', 'q=hi&limit=0', 'limit must be an integer from 1 to 50'],
    ['limit 51', 'q=hi&limit=51', 'limit must be an integer from 1 to 50'],
    ['limit abc', 'q=hi&limit=abc', 'limit must be an integer from 1 to 50'],
    ['limit 1.5', 'q=hi&limit=1.5', 'limit must be an integer from 1 to 50'],
    ['limit empty', 'q=hi&limit=', 'limit must be an integer from 1 to 50'],
    ['unknown parameter', 'q=hi&author=ann&sort=new', 'unknown parameters author, sort (accepted: q, limit, room)'],
    ['filter too long', `q=hi&room=${long(201)}`, 'room must be at most 200 characters'],
    ['filter empty', 'q=hi&room=', 'room must not be empty'],
    ['repeated parameter', 'q=a&q=b', 'parameter q given more than once'],
    ['several problems at once', 'limit=0&x=1', 'unknown parameter x (accepted: q, limit, room); q is required; limit must be an integer from 1 to 50'],
  ])('%s → 400', async (_, query, message) => {
    const res = await search()(httpEvent(query));
    expect(res.statusCode).toBe(400);
    expect(json(res)).toEqual({ error: { code: 'invalid_request', message } });
    expect(fake.requests).toEqual([]);
  });

  test.each(['POST', 'DELETE', 'PUT'])('%s → 405', async method => {
    const res = await search()(httpEvent('q=hi', method));
    expect(res.statusCode).toBe(405);
    expect(res.headers).toMatchObject({ allow: 'GET' });
    expect(json(res)).toEqual({ error: { code: 'method_not_allowed', message: `method ${method} is not allowed; use GET` } });
    expect(fake.requests).toEqual([]);
  });

  test('q is measured in characters, not UTF-16 units', async () => {
    seed();
    const res = await search({ maxQueryLength: 3 })(httpEvent(`q=${encodeURIComponent('😀😀😀')}`));
    expect(res.statusCode).toBe(200);
  });
});

describe('searching', () => {
  test('sends a bool_prefix multi_match over the expanded fields with a term filter and size=limit', async () => {
    seed();
    fake.searchHits = [
      { _id: 'general:m1', _score: 2.5, _source: { text: 'hello world', room: 'general', author: 'ann' } },
      { _id: 'general:m2', _score: 1.25, _source: { text: 'help wanted', room: 'general', author: 'bob' } },
    ];
    const res = await search()(httpEvent('q=%20hel%20wor%20&room=general&limit=5'));

    expect(res.statusCode).toBe(200);
    expect(fake.requests.map(r => `${r.method} ${r.path} ${r.status}`)).toEqual(['POST /messages/_search 200']);
    expect(fake.searches[0]).toEqual({
      size: 5,
      query: {
        bool: {
          must: [{ multi_match: { query: 'hel wor', type: 'bool_prefix', fields: ['text', 'text._2gram', 'text._3gram', 'author'] } }],
          filter: [{ term: { room: 'general' } }],
        },
      },
    });
    expect(json(res)).toEqual({
      hits: [
        { id: 'general:m1', score: 2.5, document: { text: 'hello world', room: 'general', author: 'ann' } },
        { id: 'general:m2', score: 1.25, document: { text: 'help wanted', room: 'general', author: 'bob' } },
      ],
    });
  });

  test('without limit the default size is used, and without filters the filter list is empty', async () => {
    seed();
    const res = await search()(httpEvent('q=hello'));
    expect(fake.searches[0].size).toBe(20);
    expect(fake.searches[0].query.bool.filter).toEqual([]);
    // The fake's naive prefix match over the seeded documents.
    expect(json(res).hits.map((h: any) => h.id).sort()).toEqual(['general:m1', 'random:m3']);
  });

  test('a missing index (nothing indexed yet) gives no hits', async () => {
    const res = await search()(httpEvent('q=hello'));
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({ hits: [] });
    expect(fake.requests.map(r => r.status)).toEqual([404]);
  });

  test('OpenSearch failing after the retries → 502 without its details', async () => {
    seed();
    fake.inject({ times: 100, status: 503, body: { error: { type: 'internal', reason: 'secret internals at line 42' } } });
    const logs: any[] = [];
    const res = await search({}, { log: entry => logs.push(entry) })(httpEvent('q=hello'));
    expect(res.statusCode).toBe(502);
    expect(json(res)).toEqual({ error: { code: 'search_unavailable', message: 'search is temporarily unavailable; try again later' } });
    expect(res.body).not.toContain('secret');
    expect(fake.requests).toHaveLength(3);
    expect(logs).toContainEqual(expect.objectContaining({ level: 'error', event: 'search_failed', attempts: 3 }));
  });

  test('an unexpected 4xx from OpenSearch (e.g. a denied role) → 502, not retried', async () => {
    fake.inject({ times: 1, status: 403, body: { message: 'no permissions for [indices:data/read/search]' } });
    const res = await search()(httpEvent('q=hello'));
    expect(res.statusCode).toBe(502);
    expect(fake.requests).toHaveLength(1);
  });

  test('an unreachable endpoint → 502', async () => {
    const closed = await FakeOpenSearch.start({ service: 'aoss' });
    const endpoint = closed.endpoint;
    await closed.close();
    const res = await search({ endpoint })(httpEvent('q=hello'));
    expect(res.statusCode).toBe(502);
    expect(json(res).error.code).toBe('search_unavailable');
  });
});

describe('the Lambda entry point', () => {
  test('answers 500 without details when the environment is incomplete, then works once it is set', async () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      delete process.env.SEARCH_ENDPOINT;
      const broken = await handler(httpEvent('q=hello'));
      expect(broken.statusCode).toBe(500);
      expect(json(broken)).toEqual({ error: { code: 'internal_error', message: 'internal error' } });
      expect(JSON.parse(log.mock.calls[0][0])).toEqual({ level: 'error', event: 'search_error', error: 'SEARCH_ENDPOINT is not set' });

      Object.assign(process.env, {
        AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
        AWS_SESSION_TOKEN: TEST_CREDENTIALS.sessionToken,
        AWS_REGION: TEST_REGION,
        SEARCH_ENDPOINT: fake.endpoint,
        SEARCH_SERVICE: 'aoss',
        SEARCH_INDEX: 'messages',
        SEARCH_QUERY_FIELDS: '[{"name":"text","type":"search_as_you_type"}]',
        SEARCH_FILTER_FIELDS: '["room"]',
        SEARCH_MAX_LIMIT: '10',
        SEARCH_MAX_QUERY_LENGTH: '100',
      });
      seed();
      const res = await handler(httpEvent('q=hel&room=general'));
      expect(res.statusCode).toBe(200);
      expect(json(res).hits.map((h: any) => h.id).sort()).toEqual(['general:m1', 'general:m2']);
      expect(fake.searches[0].size).toBe(10); // min(20, SEARCH_MAX_LIMIT)
      expect((await handler(httpEvent('q=hel&limit=11'))).statusCode).toBe(400);
    } finally {
      log.mockRestore();
    }
  });
});
