import * as path from 'path';
import { LocalDynamoDb, startLocalDynamoDb } from '../../shared/local-dynamodb';
import { MESSAGES_TABLE_KEY, USERS_TABLE_KEY } from '../server/tables';

/** The chat server's TypeScript entry point. */
export const CHAT_ENTRY = path.join(__dirname, '..', 'server', 'server.ts');

/** dynalite with the chat's two tables, `users` and `messages`. */
export async function startChatTables(): Promise<LocalDynamoDb> {
  const dynamo = await startLocalDynamoDb();
  await dynamo.createTable('users', USERS_TABLE_KEY);
  await dynamo.createTable('messages', MESSAGES_TABLE_KEY);
  return dynamo;
}

/** The environment of a chat server on `dynamo`'s tables, plus `extra`. */
export function chatEnv(dynamo: LocalDynamoDb, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    CHAT_USERS_TABLE: 'users',
    CHAT_MESSAGES_TABLE: 'messages',
    CHAT_SESSION_SECRET: 'a-shared-secret-for-every-server',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}
