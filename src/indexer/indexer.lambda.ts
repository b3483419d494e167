import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { indexerConfigFromEnv } from './runtime/config';
import { createIndexer, IndexerHandler } from './runtime/indexer';

/**
 * StreamIndexer's indexer: DynamoDB stream batches → one OpenSearch `_bulk` request each. The logic lives
 * in runtime/indexer.ts; this entry point only builds it from the environment on the first invocation, so
 * a configuration error fails that invocation with a readable message instead of crashing the init phase.
 */
let indexer: IndexerHandler | undefined;

export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  indexer ??= createIndexer(indexerConfigFromEnv());
  return indexer(event);
};
