/**
 * The environment contract between the StreamIndexer construct and its two handlers, read and validated
 * once per container. Every problem names the variable, so a bad deployment fails with a readable log line.
 */

/** SigV4 service names: OpenSearch Serverless collections sign as `aoss`, managed domains as `es`. */
export type SearchService = 'aoss' | 'es';

/** OpenSearch field types the indexer maps. */
export type FieldType = 'search_as_you_type' | 'text' | 'keyword' | 'date' | 'long' | 'double' | 'boolean';

export const FIELD_TYPES: readonly FieldType[] = ['search_as_you_type', 'text', 'keyword', 'date', 'long', 'double', 'boolean'];

/** Types `q` can be matched against with a bool_prefix multi_match (numbers and dates would fail the query). */
export const QUERYABLE_TYPES: readonly FieldType[] = ['search_as_you_type', 'text', 'keyword'];

export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
}

/** Where and how to reach the collection or domain. */
export interface ConnectionConfig {
  /** `https://host` without a trailing slash (plain http only for loopback test servers). */
  readonly endpoint: string;
  readonly service: SearchService;
  readonly region: string;
  readonly index: string;
}

export interface IndexerConfig extends ConnectionConfig {
  /** Attribute names whose values, joined with `:`, make the document id. */
  readonly documentId: readonly string[];
  /** The only attributes copied into documents, and the index mapping. */
  readonly fields: readonly FieldSpec[];
}

export interface SearchConfig extends ConnectionConfig {
  /** Fields matched by `q`. */
  readonly queryFields: readonly FieldSpec[];
  /** Keyword fields accepted as exact-match query parameters. */
  readonly filterFields: readonly string[];
  readonly maxLimit: number;
  readonly defaultLimit: number;
  readonly maxQueryLength: number;
}

export const ENV = {
  ENDPOINT: 'SEARCH_ENDPOINT',
  SERVICE: 'SEARCH_SERVICE',
  INDEX: 'SEARCH_INDEX',
  REGION: 'AWS_REGION',
  DOCUMENT_ID: 'SEARCH_DOCUMENT_ID',
  FIELDS: 'SEARCH_FIELDS',
  QUERY_FIELDS: 'SEARCH_QUERY_FIELDS',
  FILTER_FIELDS: 'SEARCH_FILTER_FIELDS',
  MAX_LIMIT: 'SEARCH_MAX_LIMIT',
  MAX_QUERY_LENGTH: 'SEARCH_MAX_QUERY_LENGTH',
} as const;

// Dots would create object mappings and a leading underscore collides with metadata fields like _id.
const FIELD_NAME = /^[^._][^.]{0,254}$/;

/**
 * Index names the handlers accept: stricter than OpenSearch itself, because the name goes into URL paths,
 * IAM resource ARNs and security role names unescaped.
 */
export const INDEX_NAME = /^[a-z0-9][a-z0-9._-]{0,254}$/;

/** An IAM role ARN, in any partition. */
export const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/\S+$/;

export type Env = Record<string, string | undefined>;

/** Thrown for a missing or invalid environment variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function indexerConfigFromEnv(env: Env = process.env): IndexerConfig {
  const connection = connectionFromEnv(env);
  const documentId = stringList(env, ENV.DOCUMENT_ID);
  if (documentId.length === 0) {
    throw new ConfigError(`${ENV.DOCUMENT_ID} must name at least one attribute`);
  }
  const fields = fieldList(env, ENV.FIELDS, FIELD_TYPES);
  if (fields.length === 0) {
    throw new ConfigError(`${ENV.FIELDS} must declare at least one field`);
  }
  return { ...connection, documentId, fields };
}

export function searchConfigFromEnv(env: Env = process.env): SearchConfig {
  const connection = connectionFromEnv(env);
  const queryFields = fieldList(env, ENV.QUERY_FIELDS, QUERYABLE_TYPES);
  if (queryFields.length === 0) {
    throw new ConfigError(`${ENV.QUERY_FIELDS} must declare at least one field`);
  }
  const filterFields = stringList(env, ENV.FILTER_FIELDS, true);
  for (const name of filterFields) {
    if (!FIELD_NAME.test(name)) {
      throw new ConfigError(`${ENV.FILTER_FIELDS} must hold field names without '.' that do not start with '_', got ${JSON.stringify(name)}`);
    }
    // They become query parameters next to q and limit.
    if (name === 'q' || name === 'limit') {
      throw new ConfigError(`${ENV.FILTER_FIELDS} cannot contain the reserved parameter ${JSON.stringify(name)}`);
    }
  }
  const maxLimit = positiveInt(env, ENV.MAX_LIMIT, 10_000);
  const maxQueryLength = positiveInt(env, ENV.MAX_QUERY_LENGTH, 10_000);
  return { ...connection, queryFields, filterFields, maxLimit, defaultLimit: Math.min(20, maxLimit), maxQueryLength };
}

function connectionFromEnv(env: Env): ConnectionConfig {
  const endpoint = parseEndpoint(required(env, ENV.ENDPOINT));
  const service = required(env, ENV.SERVICE);
  if (service !== 'aoss' && service !== 'es') {
    throw new ConfigError(`${ENV.SERVICE} must be "aoss" or "es", got ${JSON.stringify(service)}`);
  }
  const index = required(env, ENV.INDEX);
  if (!INDEX_NAME.test(index)) {
    throw new ConfigError(`${ENV.INDEX} must be lowercase letters, digits, '.', '_' or '-' (at most 255, not starting with a symbol), got ${JSON.stringify(index)}`);
  }
  const region = required(env, ENV.REGION);
  return { endpoint, service, index, region };
}

/** `https://host` from a URL without path, query or credentials; `name` is what the errors call the value. */
export function parseEndpoint(value: string, name: string = ENV.ENDPOINT): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be a URL like https://host, got ${JSON.stringify(value)}`);
  }
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  // Plain http would expose documents and queries; it is only accepted for local test servers.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new ConfigError(`${name} must use https, got ${JSON.stringify(value)}`);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username || url.password) {
    throw new ConfigError(`${name} must be just scheme and host, like https://host, got ${JSON.stringify(value)}`);
  }
  return `${url.protocol}//${url.host}`;
}

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function required(env: Env, name: string): string {
  const value = optional(env, name);
  if (value === undefined) {
    throw new ConfigError(`${name} is not set`);
  }
  return value;
}

function json(env: Env, name: string): unknown {
  const raw = required(env, name);
  try {
    return JSON.parse(raw);
  } catch {
    throw new ConfigError(`${name} is not valid JSON: ${raw}`);
  }
}

function stringList(env: Env, name: string, allowEmpty = false): string[] {
  const value = allowEmpty && optional(env, name) === undefined ? [] : json(env, name);
  if (!Array.isArray(value) || !value.every(v => typeof v === 'string' && v.length > 0)) {
    throw new ConfigError(`${name} must be a JSON array of non-empty strings, got ${JSON.stringify(value)}`);
  }
  if (new Set(value).size !== value.length) {
    throw new ConfigError(`${name} lists a name twice: ${JSON.stringify(value)}`);
  }
  return value;
}

function fieldList(env: Env, name: string, types: readonly FieldType[]): FieldSpec[] {
  const value = json(env, name);
  if (!Array.isArray(value)) {
    throw new ConfigError(`${name} must be a JSON array of {"name","type"} objects`);
  }
  const seen = new Set<string>();
  return value.map((field: unknown, i) => {
    const f = (field ?? {}) as { name?: unknown; type?: unknown };
    if (typeof f.name !== 'string' || !FIELD_NAME.test(f.name)) {
      throw new ConfigError(`${name}[${i}].name must be a field name without '.' that does not start with '_', got ${JSON.stringify(f.name)}`);
    }
    if (!types.includes(f.type as FieldType)) {
      throw new ConfigError(`${name}[${i}].type must be one of ${types.join(', ')}, got ${JSON.stringify(f.type)}`);
    }
    if (seen.has(f.name)) {
      throw new ConfigError(`${name} declares ${JSON.stringify(f.name)} twice`);
    }
    seen.add(f.name);
    return { name: f.name, type: f.type as FieldType };
  });
}

function positiveInt(env: Env, name: string, max: number): number {
  const raw = required(env, name);
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > max) {
    throw new ConfigError(`${name} must be an integer from 1 to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}
