import type { TableKey } from '../../shared/local-dynamodb';

/**
 * The Users table's key. Items: `username` (S, lower-case), `passwordHash` (S, `scrypt$<log2 N>$<r>$<p>$<salt>$<hash>`
 * with base64url salt and hash), `created` (N, epoch ms). No plaintext password, no e-mail.
 */
export const USERS_TABLE_KEY: TableKey = {
  partitionKey: { name: 'username', type: 'S' },
};

/**
 * The Messages table's key: a room's messages, ordered by time. `message` is `<13-digit epoch ms>-<16 hex>`,
 * so lexicographic order is chronological and two messages in the same millisecond still differ.
 */
export const MESSAGES_TABLE_KEY: TableKey = {
  partitionKey: { name: 'room', type: 'S' },
  sortKey: { name: 'message', type: 'S' },
};

/**
 * Every attribute of a Messages item, exactly as stored: a StreamIndexer copies these into its search
 * documents, whose id is `<room>:<message>`. `time` is a Number (epoch ms), the others Strings.
 */
export const MESSAGE_ATTRIBUTES = ['room', 'message', 'username', 'text', 'time'] as const;
