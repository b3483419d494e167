import { AttributeValue, BatchWriteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { BoardSize, BoardSnapshot, boardBytes, setPixel } from './board';
import { HISTORY_INDEX, laneOf } from './table';

/** One accepted placement as stored: partition `pixel` (y * width + x), sort key `seq`. */
export interface Placement {
  readonly pixel: number;
  readonly seq: number;
  readonly x: number;
  readonly y: number;
  readonly color: number;
  readonly user: string;
  /** Milliseconds since the epoch, when the server accepted it. */
  readonly time: number;
}

interface Pending {
  readonly item: Placement;
  resolve(): void;
  reject(err: Error): void;
}

export interface PlacementLogOptions {
  readonly tableName: string;
  /** A local DynamoDB-API store such as dynalite. @default - AWS */
  readonly endpoint?: string;
  /** Longest a placement waits for others to share its batch. @default 4 ms */
  readonly maxWaitMs?: number;
  /** Batches in flight at once. @default 64 */
  readonly maxInFlight?: number;
}

const BATCH = 25; // BatchWriteItem's limit
const MAX_ATTEMPTS = 6;

/**
 * Durable placement history in DynamoDB with group commit: placements arriving within a few
 * milliseconds share one BatchWriteItem (up to 25), and each caller's promise settles only when its own
 * item is stored, so an HTTP answer of 200 means the placement is durable. Unprocessed items are retried
 * with backoff; writes are idempotent because (pixel, seq) is the key.
 */
export class PlacementLog {
  private readonly client: DynamoDBClient;
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly maxWaitMs: number;
  private readonly maxInFlight: number;
  private queue: Pending[] = [];
  private timer?: NodeJS.Timeout;
  private inFlight = 0;
  private readonly idle: Array<() => void> = [];

  constructor(options: PlacementLogOptions) {
    this.tableName = options.tableName;
    this.maxWaitMs = options.maxWaitMs ?? 4;
    this.maxInFlight = options.maxInFlight ?? 64;
    const client = new DynamoDBClient(options.endpoint
      ? { endpoint: options.endpoint, region: process.env.AWS_REGION ?? 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {});
    this.client = client;
    this.db = DynamoDBDocumentClient.from(client);
  }

  /** Resolves once the placement is stored. */
  public append(item: Placement): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= BATCH) {
        this.pump();
      } else {
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, this.maxWaitMs);
      }
    });
  }

  /** Resolves when every appended placement has been stored or has failed. */
  public async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pump(true);
    if (this.queue.length === 0 && this.inFlight === 0) {
      return;
    }
    await new Promise<void>(resolve => this.idle.push(resolve));
  }

  /** Newest first, at most `limit` placements of one pixel. */
  public async history(pixel: number, limit: number): Promise<Placement[]> {
    const out = await this.db.send(new QueryCommand({
      TableName: this.tableName,
      KeyConditionExpression: 'pixel = :p',
      ExpressionAttributeValues: { ':p': pixel },
      ScanIndexForward: false,
      Limit: limit,
    }));
    return (out.Items ?? []) as Placement[];
  }

  /**
   * One lane of the sequence index: at most `limit` placements of `lane` with a sequence above `after`, in
   * sequence order (eventually consistent, as every index read); `more` when the lane may hold more.
   */
  public async laneAfter(lane: number, after: number, limit: number): Promise<{ placements: Array<Pick<Placement, 'seq' | 'x' | 'y' | 'color' | 'time'>>; more: boolean }> {
    const out = await this.db.send(new QueryCommand({
      TableName: this.tableName,
      IndexName: HISTORY_INDEX,
      KeyConditionExpression: 'lane = :l AND seq > :a',
      ExpressionAttributeValues: { ':l': lane, ':a': after },
      ExpressionAttributeNames: { '#t': 'time' },
      ProjectionExpression: 'seq, x, y, color, #t',
      Limit: limit,
    }));
    return { placements: (out.Items ?? []) as Placement[], more: out.LastEvaluatedKey !== undefined };
  }

  /**
   * The board as the history says it is: for every pixel its placement with the highest sequence number,
   * read strongly consistent so a placement stored just before is never missing. `cellSeq` holds that
   * sequence per pixel (u32 big-endian, the layout of Redis `BITFIELD u32 #i`).
   */
  public async rebuild(size: BoardSize, segments = 4): Promise<BoardSnapshot & { placements: number; cellSeq: Buffer }> {
    const latest = new Map<number, { seq: number; color: number }>();
    let maxSeq = 0;
    let placements = 0;
    await Promise.all(Array.from({ length: segments }, async (_, segment) => {
      let start: Record<string, unknown> | undefined;
      do {
        const page = await this.db.send(new ScanCommand({
          TableName: this.tableName,
          Segment: segment,
          TotalSegments: segments,
          ExclusiveStartKey: start,
          ProjectionExpression: 'pixel, seq, color',
          ConsistentRead: true,
        }));
        for (const item of (page.Items ?? []) as Array<Pick<Placement, 'pixel' | 'seq' | 'color'>>) {
          if (item.pixel < 0) {
            continue; // the sequence item (sequence.ts)
          }
          placements++;
          maxSeq = Math.max(maxSeq, item.seq);
          const known = latest.get(item.pixel);
          if (!known || known.seq < item.seq) {
            latest.set(item.pixel, { seq: item.seq, color: item.color });
          }
        }
        start = page.LastEvaluatedKey;
      } while (start);
    }));
    const bytes = Buffer.alloc(boardBytes(size));
    const cellSeq = Buffer.alloc(size.width * size.height * 4);
    for (const [pixel, { seq, color }] of latest) {
      if (pixel < size.width * size.height) {
        setPixel(bytes, pixel, color);
        cellSeq.writeUInt32BE(seq, pixel * 4);
      }
    }
    return { seq: maxSeq, bytes, placements, cellSeq };
  }

  public close(): void {
    this.db.destroy();
  }

  private pump(all = false): void {
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight && (all || this.queue.length >= BATCH || !this.timer)) {
      const batch = this.queue.splice(0, BATCH);
      this.inFlight++;
      void this.write(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) {
          this.pump(true);
        } else if (this.inFlight === 0) {
          this.idle.splice(0).forEach(resolve => resolve());
        }
      });
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    let remaining = batch;
    for (let attempt = 1; remaining.length > 0; attempt++) {
      try {
        // The low-level client with items written out by hand: on the hot path the document client's
        // generic marshalling costs more than the request itself.
        const out = await this.client.send(new BatchWriteItemCommand({
          RequestItems: { [this.tableName]: remaining.map(p => ({ PutRequest: { Item: toItem(p.item) } })) },
        }));
        const unprocessed = new Set((out.UnprocessedItems?.[this.tableName] ?? []).map(r => `${r.PutRequest!.Item!.pixel.N}:${r.PutRequest!.Item!.seq.N}`));
        remaining.filter(p => !unprocessed.has(key(p.item))).forEach(p => p.resolve());
        remaining = remaining.filter(p => unprocessed.has(key(p.item)));
      } catch (err) {
        if (attempt >= MAX_ATTEMPTS) {
          remaining.forEach(p => p.reject(err as Error));
          return;
        }
      }
      if (remaining.length > 0) {
        if (attempt >= MAX_ATTEMPTS) {
          remaining.forEach(p => p.reject(new Error('DynamoDB left the placement unprocessed after retries')));
          return;
        }
        await new Promise(r => setTimeout(r, Math.min(1000, 25 * 2 ** attempt) * (0.5 + Math.random())));
      }
    }
  }
}

function toItem(p: Placement): Record<string, AttributeValue> {
  return {
    pixel: { N: String(p.pixel) },
    seq: { N: String(p.seq) },
    x: { N: String(p.x) },
    y: { N: String(p.y) },
    color: { N: String(p.color) },
    user: { S: p.user },
    time: { N: String(p.time) },
    lane: { N: String(laneOf(p.seq)) },
  };
}

function key(p: Pick<Placement, 'pixel' | 'seq'>): string {
  return `${p.pixel}:${p.seq}`;
}
