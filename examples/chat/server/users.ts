import { randomBytes, scrypt, ScryptOptions, timingSafeEqual } from 'crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ChatError } from './errors';
import { HashGate } from './hash-gate';
import { LIMITS } from './protocol';
import { connectDynamo, Dynamo } from '../../kit/dynamo';

/**
 * scrypt with N = 2^15, r = 8, p = 1: 32 MiB and about 60 ms of one core per hash (2-vCPU EPYC, Node 20).
 * A guess costs an attacker with the table the same 32 MiB and tens of milliseconds, which rules out GPU
 * farms trying billions; a 0.5-vCPU task still takes 10-15 log-ins a second, and hashing runs on libuv's
 * thread pool, so the event loop keeps serving messages meanwhile. N = 2^17 (OWASP's figure) would need
 * 128 MiB per log-in in flight, too much for a 1 GiB task under a burst of log-ins. The parameters are
 * stored with each hash, so they can be raised later without breaking existing accounts.
 */
export const SCRYPT_PARAMS = { log2N: 15, r: 8, p: 1, keyLength: 32, saltLength: 16 } as const;

function scryptAsync(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key))));
}

function scryptOptions(log2N: number, r: number, p: number): ScryptOptions {
  // Node refuses above 32 MiB by default; allow twice what these parameters need.
  return { N: 2 ** log2N, r, p, maxmem: 2 * 128 * 2 ** log2N * r + 1024 * 1024 };
}

/** `scrypt$<log2 N>$<r>$<p>$<salt>$<hash>`, salt and hash in base64url. */
export async function hashPassword(password: string, params = SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(params.saltLength);
  const hash = await scryptAsync(password, salt, params.keyLength, scryptOptions(params.log2N, params.r, params.p));
  return ['scrypt', params.log2N, params.r, params.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** Whether `password` matches a stored hash, compared in constant time. False for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    return false;
  }
  const [log2N, r, p] = parts.slice(1, 4).map(Number);
  if (![log2N, r, p].every(Number.isInteger) || log2N < 10 || log2N > 20 || r < 1 || r > 32 || p < 1 || p > 16) {
    return false;
  }
  const salt = Buffer.from(parts[4], 'base64url');
  const expected = Buffer.from(parts[5], 'base64url');
  if (expected.length < 16) {
    return false;
  }
  const actual = await scryptAsync(password, salt, expected.length, scryptOptions(log2N, r, p));
  return timingSafeEqual(actual, expected);
}

/**
 * A user name as stored: trimmed, lower-cased, 3-20 of `a-z`, `0-9`, `_`, and not starting with the
 * `anonymous_` prefix the server keeps for itself. Throws `invalid_username` otherwise.
 */
export function normalizeUsername(raw: string): string {
  const username = raw.trim().toLowerCase();
  if (!LIMITS.usernamePattern.test(username)) {
    throw new ChatError('invalid_username', 'a user name is 3-20 letters a-z, digits or _');
  }
  if (username.startsWith(LIMITS.reservedPrefix)) {
    throw new ChatError('invalid_username', `names starting with ${LIMITS.reservedPrefix} are reserved for anonymous users`);
  }
  return username;
}

/** Throws `invalid_password` unless the password has 8-128 characters. */
export function checkPassword(password: string): void {
  const length = [...password].length;
  if (length < LIMITS.passwordMin || length > LIMITS.passwordMax) {
    throw new ChatError('invalid_password', `a password has ${LIMITS.passwordMin}-${LIMITS.passwordMax} characters`);
  }
}

/** One item of the Users table. */
interface UserItem {
  readonly username: string;
  readonly passwordHash: string;
  readonly created: number;
}

/**
 * Accounts in the DynamoDB Users table (partition key `username`): salted scrypt hashes, never the
 * password. Unknown users cost the same hash as known ones, so timing does not tell which names exist.
 */
export class UserStore {
  private readonly dynamo: Dynamo;
  private readonly db: DynamoDBDocumentClient;
  private dummyHash?: Promise<string>;

  constructor(private readonly tableName: string, endpoint?: string, private readonly gate = new HashGate(4)) {
    this.dynamo = connectDynamo(endpoint);
    this.db = this.dynamo.db;
  }

  /** Runs a password hash under the gate; `busy` at once when every slot is taken. */
  private async hashed<T>(hash: () => Promise<T>): Promise<T> {
    const done = await this.gate.tryRun(hash);
    if (!done) {
      throw new ChatError('busy', 'the server is busy with other log-ins; try again in a moment', { retryAfterMs: BUSY_RETRY_MS });
    }
    return done.value;
  }

  /** Creates the account; `username_taken` if the name exists. The name must be normalized already. */
  public async create(username: string, password: string): Promise<void> {
    const item: UserItem = { username, passwordHash: await this.hashed(() => hashPassword(password)), created: Date.now() };
    try {
      await this.db.send(new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(username)' }));
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        throw new ChatError('username_taken', `the name ${username} is taken`);
      }
      throw unavailable(err);
    }
  }

  /** Whether the account exists and the password matches it. */
  public async verify(username: string, password: string): Promise<boolean> {
    let item: UserItem | undefined;
    try {
      const out = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { username }, ConsistentRead: true }));
      item = out.Item as UserItem | undefined;
    } catch (err) {
      throw unavailable(err);
    }
    if (!item) {
      this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
      const dummy = await this.dummyHash;
      await this.hashed(() => verifyPassword(password, dummy));
      return false;
    }
    return this.hashed(() => verifyPassword(password, item.passwordHash));
  }

  public close(): void {
    this.dynamo.client.destroy();
  }
}

/** About two hashes' time: when a slot is likely free again. */
const BUSY_RETRY_MS = 150;

function unavailable(err: unknown): ChatError {
  return new ChatError('unavailable', `the user store is unavailable (${(err as Error).name}); try again`);
}
