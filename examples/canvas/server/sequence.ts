import { ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';

/**
 * The key of the sequence item in the placements table. No pixel has a negative index, so it never mixes
 * with placements (a rebuild skips it), and it has no `lane`, so the sequence index leaves it out.
 */
export const SEQUENCE_ITEM_KEY = { pixel: { N: '-1' }, seq: { N: '0' } };

/** Numbers a Redis board takes from the durable high-water mark at once. */
export const SEQUENCE_BLOCK = 10_000;

export interface SequenceLedgerOptions {
  readonly tableName: string;
  /** A local DynamoDB-API store such as dynalite. @default - AWS */
  readonly endpoint?: string;
  /** Numbers a board reserves at once. @default SEQUENCE_BLOCK */
  readonly block?: number;
}

/** The durable sequence state: the restore epoch and the high-water mark. */
export interface SequenceState {
  /** Bumped by every restore: a Redis board of an older epoch can take no more numbers. */
  readonly epoch: number;
  /** No sequence number above it was ever handed out. */
  readonly hwm: number;
}

/**
 * The durable side of the placement sequence, one item in the placements table.
 *
 * Redis hands out sequence numbers (INCR) only up to a limit it keeps next to the counter, and the limit
 * is raised only to a high-water mark that this item stored first (`reserve`, a block at a time). So every
 * number any Redis ever handed out is at most `hwm`, whatever Redis later loses. A restore first bumps the
 * epoch (`beginRestore`), which also fences every older board: their reservations are conditional on their
 * own epoch, so after the bump no older board can raise its limit, and the `hwm` the bump returned is above
 * every number they can still hand out. The restored board continues above it, so no number is used twice.
 */
export class SequenceLedger {
  public readonly block: number;
  private readonly client: DynamoDBClient;
  private readonly tableName: string;

  constructor(options: SequenceLedgerOptions) {
    this.tableName = options.tableName;
    this.block = options.block ?? SEQUENCE_BLOCK;
    this.client = new DynamoDBClient(options.endpoint
      ? { endpoint: options.endpoint, region: process.env.AWS_REGION ?? 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {});
  }

  /** Raises the high-water mark by `block` for a board of `epoch`; undefined when a restore fenced that epoch. */
  public async reserve(epoch: number, block = this.block): Promise<number | undefined> {
    try {
      const out = await this.client.send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: SEQUENCE_ITEM_KEY,
        UpdateExpression: 'SET hwm = if_not_exists(hwm, :zero) + :block',
        ConditionExpression: 'epoch = :epoch',
        ExpressionAttributeValues: { ':zero': { N: '0' }, ':block': { N: String(block) }, ':epoch': { N: String(epoch) } },
        ReturnValues: 'UPDATED_NEW',
      }));
      return Number(out.Attributes!.hwm.N);
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        return undefined;
      }
      throw err;
    }
  }

  /** Starts a restore: a new epoch, and the high-water mark every older board stays at or below. */
  public async beginRestore(): Promise<SequenceState> {
    const out = await this.client.send(new UpdateItemCommand({
      TableName: this.tableName,
      Key: SEQUENCE_ITEM_KEY,
      UpdateExpression: 'SET epoch = if_not_exists(epoch, :zero) + :one, hwm = if_not_exists(hwm, :zero)',
      ExpressionAttributeValues: { ':zero': { N: '0' }, ':one': { N: '1' } },
      ReturnValues: 'ALL_NEW',
    }));
    return { epoch: Number(out.Attributes!.epoch.N), hwm: Number(out.Attributes!.hwm.N) };
  }

  /** The stored state, read strongly consistent (zero for a table that never had one). */
  public async read(): Promise<SequenceState> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: SEQUENCE_ITEM_KEY, ConsistentRead: true }));
    return { epoch: Number(out.Item?.epoch?.N ?? 0), hwm: Number(out.Item?.hwm?.N ?? 0) };
  }

  public close(): void {
    this.client.destroy();
  }
}
