import * as path from 'path';
import { RedisProcess, startRedis } from '../../../test/support/redis-server';
import { LocalDynamoDb, startLocalDynamoDb } from '../../shared/local-dynamodb';
import { PLACEMENTS_TABLE_KEY } from '../server/table';

/** The canvas server's entry point, run by the tests with tsx. */
export const CANVAS_ENTRY = path.join(__dirname, '..', 'server', 'server.ts');

/** A redis-server and a DynamoDB-API store that the canvas servers of one test file share. */
export interface LocalCanvas {
  readonly dynamo: LocalDynamoDb;
  readonly redis: RedisProcess;
  /** Creates `table` and returns a canvas server's environment on these stores, with `extra` on top. */
  serverEnv(table: string, extra?: Record<string, string>): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export async function startLocalCanvas(auth: string): Promise<LocalCanvas> {
  const [dynamo, redis] = await Promise.all([startLocalDynamoDb(), startRedis({ password: auth })]);
  return {
    dynamo,
    redis,
    async serverEnv(table, extra = {}) {
      await dynamo.createTable(table, PLACEMENTS_TABLE_KEY);
      return {
        REALTIME_BUS_URL: redis.url,
        REALTIME_BUS_AUTH: auth,
        DYNAMODB_ENDPOINT: dynamo.endpoint,
        CANVAS_TABLE: table,
        CANVAS_TOKEN_SECRET: 'a-canvas-test-token-secret',
        LOG_LEVEL: 'fatal',
        ...extra,
      };
    },
    async stop() {
      await Promise.all([dynamo.stop(), redis.stop()]);
    },
  };
}
