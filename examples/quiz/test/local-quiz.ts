import * as path from 'path';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { RedisProcess, startRedis } from '../../../test/support/redis-server';
import { LocalDynamoDb, startLocalDynamoDb } from '../../shared/local-dynamodb';
import { QUESTION_SETS_TABLE_KEY, RESULTS_TABLE_KEY } from '../server/tables';

/** The quiz server's TypeScript entry point, and the results tool's. */
export const QUIZ_ENTRY = path.join(__dirname, '..', 'server', 'server.ts');
export const WRITE_RESULTS_ENTRY = path.join(__dirname, '..', 'server', 'write-results.ts');
export const WEB_DIR = path.join(__dirname, '..', 'web');

/** dynalite with the quiz's two tables, `question-sets` and `results`. */
export async function startQuizTables(): Promise<LocalDynamoDb> {
  const dynamo = await startLocalDynamoDb();
  await dynamo.createTable('question-sets', QUESTION_SETS_TABLE_KEY);
  await dynamo.createTable('results', RESULTS_TABLE_KEY);
  return dynamo;
}

export const AUTH = 'quiz-test-token';

/** The environment of a quiz server on `redis` and `dynamo`, plus `extra`. */
export function quizEnv(redis: { readonly url: string }, dynamo: LocalDynamoDb, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REALTIME_BUS_URL: redis.url,
    REALTIME_BUS_AUTH: AUTH,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    QUIZ_QUESTION_SETS_TABLE: 'question-sets',
    QUIZ_RESULTS_TABLE: 'results',
    QUIZ_TOKEN_SECRET: 'a-shared-secret-for-every-server',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** redis-server, dynalite and `count` quiz servers sharing them. */
export interface QuizSystem {
  readonly redis: RedisProcess;
  readonly dynamo: LocalDynamoDb;
  readonly servers: ServerProcess[];
  stop(): Promise<void>;
}

export async function startQuizSystem(count: number, extra: Record<string, string> = {}): Promise<QuizSystem> {
  const dynamo = await startQuizTables();
  const redis = await startRedis({ password: AUTH });
  const servers = await Promise.all(Array.from({ length: count }, () => startServer(QUIZ_ENTRY, quizEnv(redis, dynamo, extra))));
  return {
    redis,
    dynamo,
    servers,
    stop: async () => {
      await Promise.all(servers.map(s => s.stop()));
      await redis.stop();
      await dynamo.stop();
    },
  };
}
