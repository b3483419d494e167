import { Env, indexerConfigFromEnv, searchConfigFromEnv } from '../../src/indexer/runtime/config';

// The environment contract the StreamIndexer construct sets for its two functions.

const common: Env = {
  SEARCH_ENDPOINT: 'https://abc123.eu-west-1.aoss.amazonaws.com/',
  SEARCH_SERVICE: 'aoss',
  SEARCH_INDEX: 'messages',
  AWS_REGION: 'eu-west-1',
};
const indexerEnv: Env = {
  ...common,
  SEARCH_DOCUMENT_ID: '["room","message"]',
  SEARCH_FIELDS: '[{"name":"text","type":"search_as_you_type"},{"name":"room","type":"keyword"},{"name":"likes","type":"long"}]',
};
const searchEnv: Env = {
  ...common,
  SEARCH_QUERY_FIELDS: '[{"name":"text","type":"search_as_you_type"}]',
  SEARCH_FILTER_FIELDS: '["room"]',
  SEARCH_MAX_LIMIT: '50',
  SEARCH_MAX_QUERY_LENGTH: '200',
};

test('indexer configuration', () => {
  expect(indexerConfigFromEnv(indexerEnv)).toEqual({
    endpoint: 'https://abc123.eu-west-1.aoss.amazonaws.com',
    service: 'aoss',
    index: 'messages',
    region: 'eu-west-1',
    documentId: ['room', 'message'],
    fields: [{ name: 'text', type: 'search_as_you_type' }, { name: 'room', type: 'keyword' }, { name: 'likes', type: 'long' }],
  });
});

test('on a domain the indexer takes no security settings: its role comes from the security bootstrap', () => {
  const arn = 'arn:aws:iam::123456789012:role/search-fn';
  expect(indexerConfigFromEnv({ ...indexerEnv, SEARCH_SERVICE: 'es', SEARCH_READER_ROLE_ARN: arn })).not.toHaveProperty('readerRoleArn');
});

test('search configuration; the default limit is min(20, max)', () => {
  expect(searchConfigFromEnv(searchEnv)).toMatchObject({
    queryFields: [{ name: 'text', type: 'search_as_you_type' }], filterFields: ['room'], maxLimit: 50, defaultLimit: 20, maxQueryLength: 200,
  });
  expect(searchConfigFromEnv({ ...searchEnv, SEARCH_MAX_LIMIT: '5' }).defaultLimit).toBe(5);
  expect(searchConfigFromEnv({ ...searchEnv, SEARCH_FILTER_FIELDS: undefined }).filterFields).toEqual([]);
});

test.each([
  [{ SEARCH_ENDPOINT: undefined }, 'SEARCH_ENDPOINT is not set'],
  [{ SEARCH_ENDPOINT: 'http://search.example.com' }, 'SEARCH_ENDPOINT must use https'],
  [{ SEARCH_ENDPOINT: 'https://host/path' }, 'SEARCH_ENDPOINT must be just scheme and host'],
  [{ SEARCH_SERVICE: 'opensearch' }, 'SEARCH_SERVICE must be "aoss" or "es", got "opensearch"'],
  [{ SEARCH_INDEX: 'Messages' }, 'SEARCH_INDEX must be lowercase'],
  [{ AWS_REGION: '' }, 'AWS_REGION is not set'],
  [{ SEARCH_DOCUMENT_ID: 'room' }, 'SEARCH_DOCUMENT_ID is not valid JSON: room'],
  [{ SEARCH_DOCUMENT_ID: '[]' }, 'SEARCH_DOCUMENT_ID must name at least one attribute'],
  [{ SEARCH_FIELDS: '[{"name":"text","type":"string"}]' }, 'SEARCH_FIELDS[0].type must be one of search_as_you_type, text, keyword, date, long, double, boolean, got "string"'],
  [{ SEARCH_FIELDS: '[{"name":"a.b","type":"text"}]' }, "SEARCH_FIELDS[0].name must be a field name without '.'"],
  [{ SEARCH_FIELDS: '[{"name":"t","type":"text"},{"name":"t","type":"keyword"}]' }, 'SEARCH_FIELDS declares "t" twice'],
])('indexer: %j → %s', (change, message) => {
  expect(() => indexerConfigFromEnv({ ...indexerEnv, ...change })).toThrow(message);
});

test.each([
  [{ SEARCH_QUERY_FIELDS: '[{"name":"likes","type":"long"}]' }, 'SEARCH_QUERY_FIELDS[0].type must be one of search_as_you_type, text, keyword'],
  [{ SEARCH_FILTER_FIELDS: '["q"]' }, 'SEARCH_FILTER_FIELDS cannot contain the reserved parameter "q"'],
  [{ SEARCH_MAX_LIMIT: '0' }, 'SEARCH_MAX_LIMIT must be an integer from 1 to 10000, got "0"'],
  [{ SEARCH_MAX_LIMIT: undefined }, 'SEARCH_MAX_LIMIT is not set'],
  [{ SEARCH_MAX_QUERY_LENGTH: '2.5' }, 'SEARCH_MAX_QUERY_LENGTH must be an integer from 1 to 10000, got "2.5"'],
])('search: %j → %s', (change, message) => {
  expect(() => searchConfigFromEnv({ ...searchEnv, ...change })).toThrow(message);
});
