import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** A DynamoDB client for AWS, or for a local DynamoDB-API store (dynalite) when `endpoint` is given. */
export interface Dynamo {
  readonly client: DynamoDBClient;
  /** Marshals plain JavaScript values. Its `destroy()` does nothing; destroy `client`. */
  readonly db: DynamoDBDocumentClient;
}

export function connectDynamo(endpoint?: string): Dynamo {
  const client = new DynamoDBClient(endpoint
    ? { endpoint, region: process.env.AWS_REGION ?? 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
    : {});
  return { client, db: DynamoDBDocumentClient.from(client) };
}
