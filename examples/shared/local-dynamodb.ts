import { AddressInfo } from 'net';
import { CreateTableCommand, DynamoDBClient, KeySchemaElement, ScalarAttributeType } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';

/** A table's key, in one place for the CDK app and for local stores. */
export interface TableKey {
  readonly partitionKey: { readonly name: string; readonly type: 'S' | 'N' };
  readonly sortKey?: { readonly name: string; readonly type: 'S' | 'N' };
  /** Global secondary indexes, created with the table. */
  readonly globalIndexes?: readonly GlobalIndexKey[];
}

/** A global secondary index: its key, and the attributes it projects besides the keys (none: all). */
export interface GlobalIndexKey {
  readonly indexName: string;
  readonly partitionKey: { readonly name: string; readonly type: 'S' | 'N' };
  readonly sortKey?: { readonly name: string; readonly type: 'S' | 'N' };
  readonly include?: readonly string[];
}

/** A DynamoDB-API store (dynalite, in memory) on 127.0.0.1 for local runs, tests and benchmarks. */
export interface LocalDynamoDb {
  readonly endpoint: string;
  createTable(name: string, key: TableKey): Promise<void>;
  stop(): Promise<void>;
}

export async function startLocalDynamoDb(port = 0): Promise<LocalDynamoDb> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  return {
    endpoint,
    createTable: async (name, key) => {
      const keyOf = (k: Omit<TableKey, 'globalIndexes'>) => [k.partitionKey, ...(k.sortKey ? [k.sortKey] : [])];
      const schema = (k: Omit<TableKey, 'globalIndexes'>) =>
        keyOf(k).map((a, i): KeySchemaElement => ({ AttributeName: a.name, KeyType: i === 0 ? 'HASH' : 'RANGE' }));
      const indexes = key.globalIndexes ?? [];
      const attributes = new Map([key, ...indexes].flatMap(keyOf).map(a => [a.name, a.type as ScalarAttributeType]));
      await client.send(new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })),
        KeySchema: schema(key),
        GlobalSecondaryIndexes: indexes.length === 0 ? undefined : indexes.map(index => ({
          IndexName: index.indexName,
          KeySchema: schema(index),
          Projection: index.include ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.include] } : { ProjectionType: 'ALL' },
        })),
      }));
    },
    stop: async () => {
      client.destroy();
      await new Promise<void>(resolve => server.close(() => resolve()));
    },
  };
}
