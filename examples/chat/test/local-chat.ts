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

let addresses = 0;

/**
 * Upgrade headers of a client from an address of its own (`10.<n>`), as one trusted proxy (the load
 * balancer) reports it in X-Forwarded-For: per-address limits then see many people, not the test.
 */
export function fromOwnAddress(): { headers: Record<string, string> } {
  const n = ++addresses;
  return { headers: { 'x-forwarded-for': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` } };
}
