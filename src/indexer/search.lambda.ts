import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { searchConfigFromEnv } from './runtime/config';
import { errorMessage, jsonLogger } from './runtime/log';
import { createSearch, respond, SearchHandler } from './runtime/search';

/**
 * StreamIndexer's search function behind an HTTP API (payload format 2.0). The logic lives in
 * runtime/search.ts; this entry point builds it from the environment once, and turns anything unexpected
 * (a configuration error included) into a bare 500 so no message or stack trace reaches the caller.
 */
let search: SearchHandler | undefined;

export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  try {
    search ??= createSearch(searchConfigFromEnv());
    return await search(event);
  } catch (err) {
    jsonLogger({ level: 'error', event: 'search_error', error: errorMessage(err) });
    return respond(500, { error: { code: 'internal_error', message: 'internal error' } });
  }
};
