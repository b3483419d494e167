import { randomBytes } from 'crypto';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ChatError } from './errors';
import { ChatMessage, LIMITS } from './protocol';
import { connectDynamo, Dynamo } from '../../kit/dynamo';

const MESSAGE_ID = /^\d{13}-[0-9a-f]{16}$/;

const PROCESS_ID = randomBytes(4).toString('hex');
let sequence = randomBytes(4).readUInt32BE(0);

/**
 * `<13-digit zero-padded epoch ms>-<16 hex>`: lexicographic order is chronological. The hex is 8 random
 * digits chosen once per process, then a counter, so ids are unique across servers and two messages
 * that one server stores in the same millisecond keep their order.
 */
export function newMessageId(time: number): string {
  sequence = (sequence + 1) % 2 ** 32;
  return `${String(time).padStart(13, '0')}-${PROCESS_ID}${sequence.toString(16).padStart(8, '0')}`;
}

/** The smallest id a message of `time` (epoch ms) can have: message ids after it are that time or later. */
export function messageIdFloor(time: number): string {
  return `${String(Math.max(0, time)).padStart(13, '0')}-`;
}

/** An opaque history cursor: base64url of the last key of the page, `{room, message}`. */
export function encodeCursor(room: string, message: string): string {
  return Buffer.from(JSON.stringify({ room, message })).toString('base64url');
}

/** The key a cursor stands for; `bad_cursor` unless it is one this server made for the same room. */
export function decodeCursor(cursor: string, room: string): { room: string; message: string } {
  const refuse = () => new ChatError('bad_cursor', 'the cursor is not one of this room\'s history pages');
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) {
    throw refuse();
  }
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key) || Object.keys(key).length !== 2) {
    throw refuse();
  }
  const { room: keyRoom, message } = key as Record<string, unknown>;
  if (keyRoom !== room || typeof message !== 'string' || !MESSAGE_ID.test(message)) {
    throw refuse();
  }
  return { room, message };
}

/** One page of a room's history, newest first; `next` is absent on the last page. */
export interface HistoryPage {
  readonly room: string;
  readonly messages: ChatMessage[];
  readonly next?: string;
}

/**
 * The DynamoDB Messages table: partition key `room`, sort key `message`; attributes `username`, `text`
 * (Strings) and `time` (Number, epoch ms), exactly what a StreamIndexer indexes (document id `room:message`).
 */
export class MessageStore {
  private readonly dynamo: Dynamo;
  private readonly db: DynamoDBDocumentClient;

  constructor(private readonly tableName: string, endpoint?: string) {
    this.dynamo = connectDynamo(endpoint);
    this.db = this.dynamo.db;
  }

  /** Stores a message; resolves once DynamoDB has it. */
  public async put(message: ChatMessage): Promise<void> {
    const item: ChatMessage = { room: message.room, message: message.message, username: message.username, text: message.text, time: message.time };
    try {
      await this.db.send(new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(message)' }));
    } catch (err) {
      throw new ChatError('unavailable', `the message could not be stored (${(err as Error).name}); send it again`);
    }
  }

  /**
   * Up to 20 messages older than `cursor` (or the newest 20), newest first. It reads 21, so `next` is set
   * only when an older message exists: the last page never carries a cursor to an empty one. `consistent`
   * reads every write acknowledged before it (twice the read cost), as a joining connection's first page needs.
   */
  public async page(room: string, cursor?: string, consistent = false): Promise<HistoryPage> {
    const start = cursor === undefined ? undefined : decodeCursor(cursor, room);
    let items: ChatMessage[];
    try {
      const out = await this.db.send(new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'room = :room',
        ExpressionAttributeValues: { ':room': room },
        ScanIndexForward: false,
        Limit: LIMITS.pageSize + 1,
        ExclusiveStartKey: start,
        ConsistentRead: consistent,
      }));
      items = (out.Items ?? []) as ChatMessage[];
    } catch (err) {
      throw new ChatError('unavailable', `the history could not be read (${(err as Error).name}); try again`);
    }
    const messages = items.slice(0, LIMITS.pageSize)
      .map(i => ({ room: i.room, message: i.message, username: i.username, text: i.text, time: i.time }));
    return items.length > LIMITS.pageSize
      ? { room, messages, next: encodeCursor(room, messages[messages.length - 1].message) }
      : { room, messages };
  }

  /** Up to `limit` messages of the room after the id `after`, oldest first, read consistently. */
  public async after(room: string, after: string, limit: number): Promise<ChatMessage[]> {
    try {
      const out = await this.db.send(new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'room = :room AND message > :after',
        ExpressionAttributeValues: { ':room': room, ':after': after },
        Limit: limit,
        ConsistentRead: true,
      }));
      return ((out.Items ?? []) as ChatMessage[]).map(i => ({ room: i.room, message: i.message, username: i.username, text: i.text, time: i.time }));
    } catch (err) {
      throw new ChatError('unavailable', `the history could not be read (${(err as Error).name}); try again`);
    }
  }

  public close(): void {
    this.dynamo.client.destroy();
  }
}
