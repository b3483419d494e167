import type { IndexerConfig } from './config';
import { indexMapping } from './documents';
import type { Logger } from './log';
import { describeFailure, errorType, OpenSearchClient } from './opensearch-client';

/**
 * Creates the index with its mapping before anything is written: a bulk write to a missing index would
 * create it with dynamic mappings, and search_as_you_type can never be added to an existing text field.
 * No settings are sent: OpenSearch Serverless rejects shard and replica settings.
 *
 * On a managed domain the indexer may only create this index and write to it: its fine-grained access
 * control role comes from the stack's security bootstrap (security-bootstrap.lambda.ts), not from here.
 */
export async function ensureIndex(client: OpenSearchClient, config: IndexerConfig, log: Logger): Promise<void> {
  const res = await client.request({ method: 'PUT', path: `/${config.index}`, json: indexMapping(config.fields) });
  if (res.status >= 200 && res.status < 300) {
    log({ level: 'info', event: 'index_created', index: config.index, fields: config.fields.length });
  } else if (res.status === 400 && errorType(res.body) === 'resource_already_exists_exception') {
    // Another container (or an earlier deployment) got there first; its mapping is left as it is.
    log({ level: 'info', event: 'index_exists', index: config.index });
  } else {
    throw new Error(`creating index ${config.index} failed: ${describeFailure(res)}`);
  }
}
