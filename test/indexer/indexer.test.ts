import { record, sequenceNumbers, streamEvent } from './events';
import { FakeOpenSearch, useFakeOpenSearchPair, TEST_CREDENTIALS, TEST_REGION } from './fake-opensearch';
import { handler } from '../../src/indexer/indexer.lambda';
import type { IndexerConfig } from '../../src/indexer/runtime/config';
import { createIndexer, IndexerDeps } from '../../src/indexer/runtime/indexer';
import type { LogEntry } from '../../src/indexer/runtime/log';

// The indexer against a local, signature-checking stand-in for OpenSearch. Credentials come from the
// environment through the default provider chain, as on Lambda (where the runtime sets these variables).
process.env.AWS_ACCESS_KEY_ID = TEST_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = TEST_CREDENTIALS.secretAccessKey;
process.env.AWS_SESSION_TOKEN = TEST_CREDENTIALS.sessionToken;

const FIELDS: IndexerConfig['fields'] = [
  { name: 'text', type: 'search_as_you_type' },
  { name: 'room', type: 'keyword' },
  { name: 'author', type: 'keyword' },
  { name: 'sentAt', type: 'date' },
  { name: 'likes', type: 'long' },
  { name: 'pinned', type: 'boolean' },
];

const FAST_RETRY = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 4 };

const fakes = useFakeOpenSearchPair();

function config(fake: FakeOpenSearch, overrides: Partial<IndexerConfig> = {}): IndexerConfig {
  return { endpoint: fake.endpoint, service: fake.service, region: TEST_REGION, index: 'messages', documentId: ['room', 'message'], fields: FIELDS, ...overrides };
}

function indexer(fake: FakeOpenSearch, overrides: Partial<IndexerConfig> = {}, deps: IndexerDeps = {}) {
  const logs: LogEntry[] = [];
  const handle = createIndexer(config(fake, overrides), { retry: FAST_RETRY, log: entry => logs.push(entry), ...deps });
  return { handle, logs };
}

const bulkRequests = (fake: FakeOpenSearch) => fake.requests.filter(r => r.path.endsWith('/_bulk'));
const requestLine = (fake: FakeOpenSearch) => fake.requests.map(r => `${r.method} ${r.path} ${r.status}`);
const ndjson = (body: string) => body.split('\n').slice(0, -1).map(line => JSON.parse(line));

const m1 = {
  room: 'general',
  message: 'm1',
  text: 'hello world',
  author: 'ann',
  sentAt: { N: '1700000000000' },
  likes: { N: '3' },
  pinned: { BOOL: false },
  secret: 'not indexed',
};
const m2 = { room: 'general', message: 'm2', text: 'second message', author: 'bob', likes: { N: '12345678901' } };
const m3 = { room: 'random', message: 'm3', text: 'third', author: 'cid' };

describe('indexing a batch', () => {
  test('creates the index once with top-level mappings, then writes one bulk request with idempotent ids', async () => {
    const { handle, logs } = indexer(fakes.aoss);
    const m1Edited = { ...m1, text: 'hello there', likes: { N: '4' } };
    const batch = [record('INSERT', m1), record('INSERT', m2), record('MODIFY', m1Edited, m1), record('REMOVE', m2)];

    await expect(handle(streamEvent(...batch))).resolves.toEqual({ batchItemFailures: [] });

    expect(requestLine(fakes.aoss)).toEqual(['PUT /messages 200', 'POST /messages/_bulk 200']);
    // Mappings at the top level, no settings (Serverless rejects them): search_as_you_type really exists.
    expect(JSON.parse(fakes.aoss.requests[0].body)).toEqual({
      mappings: {
        properties: {
          text: { type: 'search_as_you_type' },
          room: { type: 'keyword' },
          author: { type: 'keyword' },
          sentAt: { type: 'date' },
          likes: { type: 'long' },
          pinned: { type: 'boolean' },
        },
      },
    });
    expect(fakes.aoss.indices.get('messages')!.mappings.properties.text).toEqual({ type: 'search_as_you_type' });

    const bulk = fakes.aoss.requests[1];
    expect(bulk.headers['content-type']).toBe('application/x-ndjson');
    expect(bulk.query).toEqual({}); // no refresh
    expect(bulk.body.endsWith('\n')).toBe(true);
    // Only configured fields; numbers stay JSON numbers, booleans booleans.
    expect(ndjson(bulk.body)).toEqual([
      { index: { _id: 'general:m1' } },
      { text: 'hello world', room: 'general', author: 'ann', sentAt: 1700000000000, likes: 3, pinned: false },
      { index: { _id: 'general:m2' } },
      { text: 'second message', room: 'general', author: 'bob', likes: 12345678901 },
      { index: { _id: 'general:m1' } },
      { text: 'hello there', room: 'general', author: 'ann', sentAt: 1700000000000, likes: 4, pinned: false },
      { delete: { _id: 'general:m2' } },
    ]);
    expect(bulk.body).toContain('"likes":3,');

    const docs = fakes.aoss.indices.get('messages')!.docs;
    expect([...docs.keys()]).toEqual(['general:m1']);
    expect(docs.get('general:m1')).not.toHaveProperty('secret');

    expect(logs).toContainEqual(expect.objectContaining({
      level: 'info', event: 'batch', records: 4, indexed: 3, deleted: 1, skipped: 0, failed: 0, reported: 0,
    }));

    // Same instance, next batch: the index is not created again.
    await expect(handle(streamEvent(record('INSERT', m3)))).resolves.toEqual({ batchItemFailures: [] });
    expect(requestLine(fakes.aoss)).toEqual(['PUT /messages 200', 'POST /messages/_bulk 200', 'POST /messages/_bulk 200']);
    expect(docs.get('random:m3')).toEqual({ text: 'third', room: 'random', author: 'cid' });
  });

  test('a new instance (container) treats an existing index as created', async () => {
    await indexer(fakes.aoss).handle(streamEvent(record('INSERT', m1)));
    const { handle, logs } = indexer(fakes.aoss);
    await expect(handle(streamEvent(record('INSERT', m2)))).resolves.toEqual({ batchItemFailures: [] });
    expect(requestLine(fakes.aoss)).toEqual(['PUT /messages 200', 'POST /messages/_bulk 200', 'PUT /messages 400', 'POST /messages/_bulk 200']);
    expect(logs).toContainEqual(expect.objectContaining({ event: 'index_exists' }));
  });

  test('takes id attributes from the old image or the keys when the new image lacks them', async () => {
    // REMOVE of a KEYS_ONLY-style record: only Keys carry the id.
    const remove = record('REMOVE', m1);
    delete remove.dynamodb!.OldImage;
    const { handle } = indexer(fakes.aoss);
    await expect(handle(streamEvent(record('INSERT', m1), remove))).resolves.toEqual({ batchItemFailures: [] });
    expect(ndjson(bulkRequests(fakes.aoss)[0].body)[2]).toEqual({ delete: { _id: 'general:m1' } });
  });

  test('skips records without id attributes with a structured error line, and indexes the rest', async () => {
    const broken = record('INSERT', m1);
    delete broken.dynamodb!.NewImage!.message;
    delete broken.dynamodb!.Keys!.message;
    const { handle, logs } = indexer(fakes.aoss);

    await expect(handle(streamEvent(broken, record('INSERT', m2)))).resolves.toEqual({ batchItemFailures: [] });

    expect(ndjson(bulkRequests(fakes.aoss)[0].body)).toEqual([{ index: { _id: 'general:m2' } }, expect.any(Object)]);
    expect(logs).toContainEqual({
      level: 'error',
      event: 'record_skipped',
      reason: 'missing_id_attribute',
      detail: expect.stringContaining('"message"'),
      sequenceNumber: broken.dynamodb!.SequenceNumber,
      eventID: broken.eventID,
      eventName: 'INSERT',
    });
    expect(logs).toContainEqual(expect.objectContaining({ event: 'batch', records: 2, skipped: 1, indexed: 1 }));
  });

  test('drops a value that does not fit its mapped type instead of sending a document OpenSearch rejects', async () => {
    const odd = { room: 'general', message: 'm9', text: { M: { nested: { S: 'x' } } }, likes: { S: 'many' }, author: { SS: ['a', 'b'] } };
    const { handle, logs } = indexer(fakes.aoss);
    await expect(handle(streamEvent(record('INSERT', odd)))).resolves.toEqual({ batchItemFailures: [] });
    expect(fakes.aoss.indices.get('messages')!.docs.get('general:m9')).toEqual({ room: 'general', author: ['a', 'b'] });
    expect(logs).toContainEqual(expect.objectContaining({ level: 'warn', event: 'fields_dropped', fields: ['text', 'likes'] }));
  });

  test('a batch with nothing to write sends nothing', async () => {
    const broken = record('INSERT', m1);
    delete broken.dynamodb!.NewImage;
    const { handle } = indexer(fakes.aoss);
    await expect(handle(streamEvent(broken))).resolves.toEqual({ batchItemFailures: [] });
    expect(fakes.aoss.requests).toEqual([]);
  });
});

describe('partial failures', () => {
  test('reports the failed record and every later one; deleting a missing document is not a failure', async () => {
    const batch = [record('INSERT', m1), record('INSERT', m2), record('REMOVE', { room: 'general', message: 'gone' }), record('INSERT', m3)];
    fakes.aoss.failItem({ id: 'general:m2', status: 400, type: 'mapper_parsing_exception', times: 1 });
    const { handle, logs } = indexer(fakes.aoss);

    const result = await handle(streamEvent(...batch));

    // Lambda resumes from the lowest reported sequence number; the later records are replayed in order.
    expect(result.batchItemFailures.map(f => f.itemIdentifier)).toEqual(sequenceNumbers(batch.slice(1)));
    expect(bulkRequests(fakes.aoss)).toHaveLength(1); // a 400 item is not retried
    expect([...fakes.aoss.indices.get('messages')!.docs.keys()].sort()).toEqual(['general:m1', 'random:m3']);
    expect(logs).toContainEqual({
      level: 'error', event: 'item_failed', sequenceNumber: batch[1].dynamodb!.SequenceNumber, action: 'index', status: 400, type: 'mapper_parsing_exception',
    });
    expect(logs).toContainEqual(expect.objectContaining({
      level: 'warn', event: 'batch', indexed: 2, deleted: 1, failed: 1, reported: 3, failures: { '400 mapper_parsing_exception': 1 },
    }));
  });

  test('a batch whose only failure would be a 404 delete succeeds', async () => {
    const { handle } = indexer(fakes.aoss);
    await expect(handle(streamEvent(record('REMOVE', { room: 'general', message: 'never-indexed' })))).resolves.toEqual({ batchItemFailures: [] });
    expect(bulkRequests(fakes.aoss).map(r => r.status)).toEqual([200]);
  });
});

describe('retries', () => {
  const bulkOnly = (r: { path: string }) => r.path.endsWith('/_bulk');

  test('503 twice, then OK: the batch succeeds on the third request', async () => {
    fakes.aoss.inject({ match: bulkOnly, times: 2, status: 503 });
    const { handle } = indexer(fakes.aoss);
    await expect(handle(streamEvent(record('INSERT', m1)))).resolves.toEqual({ batchItemFailures: [] });
    expect(bulkRequests(fakes.aoss).map(r => r.status)).toEqual([503, 503, 200]);
    expect(fakes.aoss.indices.get('messages')!.docs.has('general:m1')).toBe(true);
  });

  test('429 on the whole request is retried too', async () => {
    fakes.aoss.inject({ match: bulkOnly, times: 1, status: 429 });
    const { handle } = indexer(fakes.aoss);
    await expect(handle(streamEvent(record('INSERT', m1)))).resolves.toEqual({ batchItemFailures: [] });
    expect(bulkRequests(fakes.aoss).map(r => r.status)).toEqual([429, 200]);
  });

  test('always 503: gives up after the attempt bound and fails the whole batch by throwing (so Lambda can bisect it)', async () => {
    fakes.aoss.inject({ match: bulkOnly, times: 100, status: 503 });
    const { handle, logs } = indexer(fakes.aoss);
    await expect(handle(streamEvent(record('INSERT', m1), record('INSERT', m2)))).rejects.toThrow(/bulk request to messages failed: HTTP 503/);
    expect(bulkRequests(fakes.aoss)).toHaveLength(FAST_RETRY.maxAttempts);
    expect(logs).toContainEqual(expect.objectContaining({ level: 'error', event: 'batch_failed', records: 2 }));
  });

  test('a 400 on the whole request is not retried', async () => {
    fakes.aoss.inject({ match: bulkOnly, times: 100, status: 400, body: { error: { type: 'illegal_argument_exception', reason: 'bad' }, status: 400 } });
    const { handle } = indexer(fakes.aoss);
    await expect(handle(streamEvent(record('INSERT', m1)))).rejects.toThrow(/HTTP 400 illegal_argument_exception: bad/);
    expect(bulkRequests(fakes.aoss)).toHaveLength(1);
  });

  test('network errors are retried up to the bound, then the batch fails', async () => {
    const closed = await FakeOpenSearch.start({ service: 'aoss' });
    const endpoint = closed.endpoint;
    await closed.close();
    let calls = 0;
    const { handle } = indexer(fakes.aoss, { endpoint }, { fetch: (input, init) => { calls++; return fetch(input, init); } });
    await expect(handle(streamEvent(record('INSERT', m1)))).rejects.toThrow(/failed after 3 attempts/);
    expect(calls).toBe(3);
  });

  test('bulk items answered 429 are resent once as a smaller bulk of just those items', async () => {
    fakes.aoss.failItem({ id: 'general:m2', status: 429, type: 'es_rejected_execution_exception', times: 1 });
    const { handle, logs } = indexer(fakes.aoss);
    await expect(handle(streamEvent(record('INSERT', m1), record('INSERT', m2), record('INSERT', m3)))).resolves.toEqual({ batchItemFailures: [] });
    const bulks = bulkRequests(fakes.aoss);
    expect(bulks).toHaveLength(2);
    expect(ndjson(bulks[1].body)).toEqual([{ index: { _id: 'general:m2' } }, expect.objectContaining({ text: 'second message' })]);
    expect(fakes.aoss.indices.get('messages')!.docs.size).toBe(3);
    expect(logs).toContainEqual(expect.objectContaining({ event: 'batch', indexed: 3, failed: 0, itemRetries: 1 }));
  });

  test('items still throttled after the bounded rounds are reported failed', async () => {
    fakes.aoss.failItem({ id: 'general:m2', status: 429, type: 'es_rejected_execution_exception', times: 100 });
    const batch = [record('INSERT', m1), record('INSERT', m2), record('INSERT', m3)];
    const { handle } = indexer(fakes.aoss, {}, { itemRetryRounds: 2 });
    const result = await handle(streamEvent(...batch));
    expect(result.batchItemFailures.map(f => f.itemIdentifier)).toEqual(sequenceNumbers(batch.slice(1)));
    expect(bulkRequests(fakes.aoss).map(r => ndjson(r.body).length)).toEqual([6, 2, 2]);
  });

  test('a throttled item is not resent when a later action on the same id already succeeded', async () => {
    // INSERT m1 is throttled, MODIFY m1 succeeds: resending the INSERT would bring back the old text.
    fakes.aoss.failItem({ id: 'general:m1', status: 429, type: 'es_rejected_execution_exception', times: 1 });
    const batch = [record('INSERT', m1), record('MODIFY', { ...m1, text: 'edited' }, m1)];
    const { handle } = indexer(fakes.aoss);
    const result = await handle(streamEvent(...batch));
    expect(bulkRequests(fakes.aoss)).toHaveLength(1);
    expect(fakes.aoss.indices.get('messages')!.docs.get('general:m1')).toMatchObject({ text: 'edited' });
    // Replayed from the INSERT, in order, by Lambda.
    expect(result.batchItemFailures.map(f => f.itemIdentifier)).toEqual(sequenceNumbers(batch));
  });
});

describe('index creation failure', () => {
  test('fails the batch without writing, and the next invocation creates the index again', async () => {
    fakes.aoss.inject({ match: r => r.method === 'PUT', times: 3, status: 500 });
    const { handle, logs } = indexer(fakes.aoss);

    await expect(handle(streamEvent(record('INSERT', m1)))).rejects.toThrow(/creating index messages failed: HTTP 500/);
    expect(requestLine(fakes.aoss)).toEqual(['PUT /messages 500', 'PUT /messages 500', 'PUT /messages 500']);
    expect(logs).toContainEqual(expect.objectContaining({ level: 'error', event: 'batch_failed' }));

    await expect(handle(streamEvent(record('INSERT', m1)))).resolves.toEqual({ batchItemFailures: [] });
    expect(requestLine(fakes.aoss).slice(3)).toEqual(['PUT /messages 200', 'POST /messages/_bulk 200']);
    expect(fakes.aoss.indices.get('messages')!.mappings).toBeDefined();
  });

  test('a 403 (no data access) is not retried', async () => {
    fakes.aoss.inject({ match: r => r.method === 'PUT', times: 1, status: 403, body: { status: 403, message: 'User does not have permissions for the requested resource' } });
    const { handle } = indexer(fakes.aoss);
    await expect(handle(streamEvent(record('INSERT', m1)))).rejects.toThrow(/HTTP 403: User does not have permissions/);
    expect(fakes.aoss.requests).toHaveLength(1);
  });
});

describe('managed domain (es) with fine-grained access control', () => {
  test('signs for es, creates the index and writes, and never calls the security API', async () => {
    const { handle } = indexer(fakes.es);
    await expect(handle(streamEvent(record('INSERT', m1)))).resolves.toEqual({ batchItemFailures: [] });
    expect(requestLine(fakes.es)).toEqual(['PUT /messages 200', 'POST /messages/_bulk 200']);
    expect(fakes.es.roles.size + fakes.es.roleMappings.size).toBe(0);
  });

  test('a 403 from fine-grained access control (roles not mapped yet) fails the batch without retrying', async () => {
    fakes.es.inject({ times: 1, status: 403, body: { error: { type: 'security_exception', reason: 'no permissions for [indices:admin/create]' }, status: 403 } });
    const { handle } = indexer(fakes.es);
    await expect(handle(streamEvent(record('INSERT', m1)))).rejects.toThrow(/HTTP 403 security_exception: no permissions for \[indices:admin\/create\]/);
    expect(fakes.es.requests).toHaveLength(1);
  });
});

describe('the Lambda entry point', () => {
  test('builds the indexer from the environment contract on its first invocation', async () => {
    process.env.SEARCH_ENDPOINT = `${fakes.aoss.endpoint}/`; // a trailing slash is tolerated
    process.env.SEARCH_SERVICE = 'aoss';
    process.env.SEARCH_INDEX = 'chat';
    process.env.AWS_REGION = TEST_REGION;
    process.env.SEARCH_DOCUMENT_ID = '["room","message"]';
    process.env.SEARCH_FIELDS = '[{"name":"text","type":"search_as_you_type"},{"name":"room","type":"keyword"}]';
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await expect(handler(streamEvent(record('INSERT', m1)))).resolves.toEqual({ batchItemFailures: [] });
      await expect(handler(streamEvent(record('INSERT', m2)))).resolves.toEqual({ batchItemFailures: [] });
      expect(requestLine(fakes.aoss)).toEqual(['PUT /chat 200', 'POST /chat/_bulk 200', 'POST /chat/_bulk 200']);
      expect(fakes.aoss.indices.get('chat')!.docs.get('general:m1')).toEqual({ text: 'hello world', room: 'general' });
      const lines = log.mock.calls.map(([line]) => JSON.parse(line));
      expect(lines).toContainEqual(expect.objectContaining({ level: 'info', event: 'batch', records: 1, indexed: 1 }));
    } finally {
      log.mockRestore();
    }
  });
});
