import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { FieldSpec, SearchConfig } from './config';
import { errorMessage, jsonLogger, Logger } from './log';
import { describeFailure, errorType, OpenSearchClient, OpenSearchClientOptions, OpenSearchResponse } from './opensearch-client';

/**
 * `GET /search?q=&<filter>=&limit=` behind an HTTP API (payload format 2.0): validates the query string,
 * runs a bool_prefix multi_match with exact-match filters, and answers JSON. Clients only ever see the
 * error codes below, never OpenSearch's messages or a stack trace.
 */

export interface SearchDeps extends OpenSearchClientOptions {
  readonly log?: Logger;
}

export type SearchHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

export interface SearchRequest {
  readonly q: string;
  readonly limit: number;
  /** Filter field → exact value, in SEARCH_FILTER_FIELDS order. */
  readonly filters: ReadonlyArray<readonly [string, string]>;
}

export interface SearchHit {
  readonly id: string;
  readonly score: number | null;
  readonly document: Record<string, unknown>;
}

/** Longest accepted value of a filter parameter. */
export const MAX_FILTER_LENGTH = 200;

/** HTTP API integrations time out at 30 s: three 5 s attempts plus backoff stay well inside it. */
const SEARCH_TIMEOUT_MS = 5_000;

export function createSearch(config: SearchConfig, deps: SearchDeps = {}): SearchHandler {
  const client = new OpenSearchClient(config, { ...deps, retry: { timeoutMs: SEARCH_TIMEOUT_MS, ...deps.retry } });
  const log = deps.log ?? jsonLogger;

  return async event => {
    const started = Date.now();
    const method = event.requestContext?.http?.method ?? 'GET';
    if (method !== 'GET') {
      return respond(405, { error: { code: 'method_not_allowed', message: `method ${method} is not allowed; use GET` } }, { allow: 'GET' });
    }
    const parsed = parseSearchRequest(event, config);
    if (!parsed.ok) {
      log({ level: 'info', event: 'search_rejected', message: parsed.message });
      return respond(400, { error: { code: 'invalid_request', message: parsed.message } });
    }
    const request = parsed.request;
    let res: OpenSearchResponse;
    try {
      res = await client.request({ method: 'POST', path: `/${config.index}/_search`, json: searchQuery(request, config.queryFields) });
    } catch (err) {
      log({ level: 'error', event: 'search_failed', error: errorMessage(err), durationMs: Date.now() - started });
      return unavailable();
    }
    // No document has been indexed yet, so the indexer has not created the index: nothing matches.
    if (res.status === 404 && errorType(res.body) === 'index_not_found_exception') {
      log({ level: 'info', event: 'search', hits: 0, indexMissing: true, durationMs: Date.now() - started });
      return respond(200, { hits: [] });
    }
    if (res.status !== 200 || !Array.isArray(res.body?.hits?.hits)) {
      log({ level: 'error', event: 'search_failed', error: describeFailure(res), attempts: res.attempts, durationMs: Date.now() - started });
      return unavailable();
    }
    const hits: SearchHit[] = res.body.hits.hits.map((hit: any) => ({
      id: String(hit._id),
      score: typeof hit._score === 'number' ? hit._score : null,
      document: hit._source ?? {},
    }));
    // The query text is user content; only its shape is logged.
    log({
      level: 'info',
      event: 'search',
      hits: hits.length,
      limit: request.limit,
      queryLength: request.q.length,
      filters: request.filters.map(([name]) => name),
      durationMs: Date.now() - started,
    });
    return respond(200, { hits });
  };
}

/** Validates the query string; the message names every parameter that is wrong and how. */
export function parseSearchRequest(
  event: APIGatewayProxyEventV2, config: SearchConfig,
): { ok: true; request: SearchRequest } | { ok: false; message: string } {
  const params = event.queryStringParameters ?? {};
  const problems: string[] = [];

  const accepted = ['q', 'limit', ...config.filterFields];
  const unknown = Object.keys(params).filter(name => !accepted.includes(name)).sort();
  if (unknown.length > 0) {
    problems.push(`unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (accepted: ${accepted.join(', ')})`);
  }
  // HTTP APIs join repeated parameters with commas in queryStringParameters; only the raw string shows them.
  const counts = new Map<string, number>();
  for (const name of new URLSearchParams(event.rawQueryString ?? '').keys()) {
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const repeated = [...counts].filter(([name, n]) => n > 1 && accepted.includes(name)).map(([name]) => name).sort();
  if (repeated.length > 0) {
    problems.push(`parameter${repeated.length > 1 ? 's' : ''} ${repeated.join(', ')} given more than once`);
  }

  const q = params.q?.trim();
  if (q === undefined) {
    problems.push('q is required');
  } else if (q.length === 0) {
    problems.push('q must not be empty');
  } else if ([...q].length > config.maxQueryLength) {
    problems.push(`q must be at most ${config.maxQueryLength} characters`);
  }

  let limit = config.defaultLimit;
  if (params.limit !== undefined) {
    limit = /^\d{1,6}$/.test(params.limit) ? Number(params.limit) : NaN;
    if (!(limit >= 1 && limit <= config.maxLimit)) {
      problems.push(`limit must be an integer from 1 to ${config.maxLimit}`);
    }
  }

  const filters: Array<readonly [string, string]> = [];
  for (const name of config.filterFields) {
    const value = params[name];
    if (value === undefined) {
      continue;
    }
    if (value.length === 0) {
      problems.push(`${name} must not be empty`);
    } else if ([...value].length > MAX_FILTER_LENGTH) {
      problems.push(`${name} must be at most ${MAX_FILTER_LENGTH} characters`);
    } else {
      filters.push([name, value]);
    }
  }

  if (problems.length > 0 || q === undefined) {
    return { ok: false, message: problems.join('; ') };
  }
  return { ok: true, request: { q, limit, filters } };
}

/** search_as_you_type fields are matched on their root and shingle subfields, as bool_prefix expects. */
export function expandQueryFields(fields: readonly FieldSpec[]): string[] {
  return fields.flatMap(f => (f.type === 'search_as_you_type' ? [f.name, `${f.name}._2gram`, `${f.name}._3gram`] : [f.name]));
}

export function searchQuery(request: SearchRequest, queryFields: readonly FieldSpec[]): object {
  return {
    size: request.limit,
    query: {
      bool: {
        must: [{ multi_match: { query: request.q, type: 'bool_prefix', fields: expandQueryFields(queryFields) } }],
        filter: request.filters.map(([name, value]) => ({ term: { [name]: value } })),
      },
    },
  };
}

function unavailable(): APIGatewayProxyStructuredResultV2 {
  return respond(502, { error: { code: 'search_unavailable', message: 'search is temporarily unavailable; try again later' } });
}

export function respond(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}
