/**
 * Runs one example system locally on its embedded defaults:
 *
 *   npm run dev canvas       http://localhost:8080
 *   npm run dev chat         http://localhost:8080 (search through a local stand-in of the search API)
 *   npm run dev bot          4 shards on local gateway and SNS/SQS stand-ins; command API at :8080/commands
 *   npm run dev quiz         http://localhost:8080 (host page at /host.html; starts a local redis-server)
 *
 * In-memory bus and board unless REALTIME_BUS_URL points at a Redis; a DynamoDB-API store (dynalite, in
 * memory) in this process unless DYNAMODB_ENDPOINT and the table variables are set; the example's web/
 * served by the server itself (in AWS, CdnFrontDoor serves it).
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { PLACEMENTS_TABLE_KEY } from '../examples/canvas/server/table';
import { MESSAGES_TABLE_KEY, USERS_TABLE_KEY } from '../examples/chat/server/tables';
import { QUESTION_SETS_TABLE_KEY, RESULTS_TABLE_KEY } from '../examples/quiz/server/tables';
import { startLocalDynamoDb } from '../examples/shared/local-dynamodb';
import { startRedis } from '../test/support/redis-server';

const RUNNABLE = ['canvas', 'chat', 'echo', 'quiz', 'bot'];

async function main(): Promise<void> {
  const name = process.argv[2];
  if (!name || !RUNNABLE.includes(name)) {
    throw new Error(`usage: npm run dev <example>; examples: ${RUNNABLE.join(', ')}`);
  }
  const dir = path.join(__dirname, '..', 'examples', name);
  process.env.PORT ??= '8080';
  if (name === 'bot') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    await require(path.join(dir, 'local', 'dev.ts')).runLocalBot();
    return;
  }
  if (name === 'canvas') {
    if (!process.env.DYNAMODB_ENDPOINT && !process.env.CANVAS_TABLE) {
      const local = await startLocalDynamoDb();
      await local.createTable('canvas-placements', PLACEMENTS_TABLE_KEY);
      process.env.DYNAMODB_ENDPOINT = local.endpoint;
      process.env.CANVAS_TABLE = 'canvas-placements';
      console.log(`local DynamoDB-API store (dynalite, in memory) at ${local.endpoint}`);
    }
    process.env.CANVAS_TOKEN_SECRET ??= randomBytes(24).toString('base64url');
    process.env.CANVAS_WEB_DIR ??= path.join(dir, 'web');
  }
  if (name === 'chat') {
    if (!process.env.DYNAMODB_ENDPOINT && !process.env.CHAT_USERS_TABLE && !process.env.CHAT_MESSAGES_TABLE) {
      const local = await startLocalDynamoDb();
      await local.createTable('chat-users', USERS_TABLE_KEY);
      await local.createTable('chat-messages', MESSAGES_TABLE_KEY);
      process.env.DYNAMODB_ENDPOINT = local.endpoint;
      process.env.CHAT_USERS_TABLE = 'chat-users';
      process.env.CHAT_MESSAGES_TABLE = 'chat-messages';
      console.log(`local DynamoDB-API store (dynalite, in memory) at ${local.endpoint}`);
    }
    process.env.CHAT_SESSION_SECRET ??= randomBytes(24).toString('base64url');
    process.env.CHAT_WEB_DIR ??= path.join(dir, 'web');
    // In AWS /search is the StreamIndexer's search API; locally an in-process stand-in answers it.
    process.env.CHAT_LOCAL_SEARCH ??= '1';
  }
  if (name === 'quiz') {
    if (!process.env.DYNAMODB_ENDPOINT && !process.env.QUIZ_QUESTION_SETS_TABLE && !process.env.QUIZ_RESULTS_TABLE) {
      const local = await startLocalDynamoDb();
      await local.createTable('quiz-question-sets', QUESTION_SETS_TABLE_KEY);
      await local.createTable('quiz-results', RESULTS_TABLE_KEY);
      process.env.DYNAMODB_ENDPOINT = local.endpoint;
      process.env.QUIZ_QUESTION_SETS_TABLE = 'quiz-question-sets';
      process.env.QUIZ_RESULTS_TABLE = 'quiz-results';
      console.log(`local DynamoDB-API store (dynalite, in memory) at ${local.endpoint}`);
    }
    // The quiz keeps its state in Redis (Lua scripts, sorted sets): without a bus URL, run a throwaway redis-server.
    if (!process.env.REALTIME_BUS_URL) {
      const redis = await startRedis();
      process.env.REALTIME_BUS_URL = redis.url;
      process.on('exit', () => process.kill(redis.pid));
    }
    process.env.QUIZ_TOKEN_SECRET ??= randomBytes(24).toString('base64url');
    process.env.QUIZ_WEB_DIR ??= path.join(dir, 'web');
  }
  if (fs.existsSync(path.join(dir, 'web'))) {
    console.log(`open http://localhost:${process.env.PORT}/`);
  }
  console.log(process.env.REALTIME_BUS_URL ? `bus: ${process.env.REALTIME_BUS_URL}` : 'bus: in memory (set REALTIME_BUS_URL for Redis)');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(path.join(dir, 'server', 'server.ts'));
}

main().catch(err => {
  console.error(err.message);
  process.exit(1);
});
