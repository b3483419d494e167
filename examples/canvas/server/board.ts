import { Cluster, Redis } from 'ioredis';

/**
 * The 16 colours a pixel can take, as a palette index 0-15 (4 bits a pixel). r/place 2017 used 16
 * colours in a 4-bit Redis bitfield; it keeps the 1000x1000 board at 500 KB (24-bit RGB would be
 * 3 MB), compresses well, and two pixels share one byte so clients decode it without bit arithmetic
 * across bytes. Pixel i is the high nibble of byte i/2 when i is even, the low nibble when odd,
 * which is exactly how Redis lays out `BITFIELD u4 #i`.
 */
export const PALETTE = [
  '#ffffff', '#e4e4e4', '#888888', '#222222', '#ffa7d1', '#e50000', '#e59500', '#a06a42',
  '#e5d900', '#94e044', '#02be01', '#00d3dd', '#0083c7', '#0000ea', '#cf6ee4', '#820080',
] as const;

export interface BoardSize {
  readonly width: number;
  readonly height: number;
}

/** What a placement attempt came to. */
export type PlaceResult =
  | { readonly kind: 'placed'; readonly seq: number }
  | { readonly kind: 'cooldown'; readonly retryAfterMs: number }
  /** The store lost its data (e.g. a restarted Redis without persistence): restore it, then retry. */
  | { readonly kind: 'missing' };

/** A consistent copy of the board and the sequence number of the last placement in it. */
export interface BoardSnapshot {
  readonly seq: number;
  readonly bytes: Buffer;
}

/** Live board state, cooldowns and the placement sequence, shared by every server process. */
export interface BoardStore {
  /** Atomically: refuse if the user is cooling down, else start their cooldown, set the pixel and take the next sequence number. */
  place(index: number, color: number, user: string, cooldownMs: number): Promise<PlaceResult>;
  /** Ends a user's cooldown (when the placement could not be stored durably). */
  clearCooldown(user: string): Promise<void>;
  /** Whether the store holds a board at all. */
  hasBoard(): Promise<boolean>;
  /** The board, or undefined when the store holds none (see `PlaceResult` 'missing'). */
  snapshot(): Promise<BoardSnapshot | undefined>;
  /** Replaces board and sequence, e.g. with a board rebuilt from the placement history, and releases the restore lock. */
  restore(snapshot: BoardSnapshot): Promise<void>;
  /** Takes the right to restore for `ttlMs`; false when another process holds it. */
  lockRestore(ttlMs: number): Promise<boolean>;
  /** Gives the right to restore back without restoring (someone else already did). */
  unlockRestore(): Promise<void>;
  close(): Promise<void>;
}

export function boardBytes(size: BoardSize): number {
  return Math.ceil((size.width * size.height) / 2);
}

export function setPixel(bytes: Uint8Array, index: number, color: number): void {
  const i = index >> 1;
  bytes[i] = index & 1 ? (bytes[i] & 0xf0) | color : (bytes[i] & 0x0f) | (color << 4);
}

export function getPixel(bytes: Uint8Array, index: number): number {
  const b = bytes[index >> 1] ?? 0;
  return index & 1 ? b & 0x0f : b >> 4;
}

// Keys share the hash tag {canvas} so the Lua script and MULTI work on a cluster-mode endpoint too.
const KEYS = { board: '{canvas}:board', seq: '{canvas}:seq', restoreLock: '{canvas}:restore-lock', cooldown: (user: string) => `{canvas}:cooldown:${user}` };

const PLACE_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 0 then return {-1, 0} end
local ttl = redis.call('PTTL', KEYS[3])
if ttl > 0 then return {0, ttl} end
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[3], '1', 'PX', ARGV[3]) end
redis.call('BITFIELD', KEYS[1], 'SET', 'u4', '#' .. ARGV[1], ARGV[2])
return {1, redis.call('INCR', KEYS[2])}
`;

type WithPlace = (Redis | Cluster) & {
  canvasPlace(board: string, seq: string, cooldown: string, index: number, color: number, cooldownMs: number): Promise<[number, number]>;
};

/** The board in Redis or Valkey: a BITFIELD of u4 cells, a sequence counter and per-user cooldown keys. */
export class RedisBoardStore implements BoardStore {
  private readonly redis: WithPlace;

  constructor(redis: Redis | Cluster, private readonly size: BoardSize) {
    redis.defineCommand('canvasPlace', { numberOfKeys: 3, lua: PLACE_SCRIPT });
    this.redis = redis as WithPlace;
  }

  public async place(index: number, color: number, user: string, cooldownMs: number): Promise<PlaceResult> {
    const [status, value] = await this.redis.canvasPlace(KEYS.board, KEYS.seq, KEYS.cooldown(user), index, color, cooldownMs);
    if (status === -1) {
      return { kind: 'missing' };
    }
    return status === 0 ? { kind: 'cooldown', retryAfterMs: value } : { kind: 'placed', seq: value };
  }

  public async clearCooldown(user: string): Promise<void> {
    await this.redis.del(KEYS.cooldown(user));
  }

  public async hasBoard(): Promise<boolean> {
    return (await this.redis.exists(KEYS.seq)) === 1;
  }

  public async snapshot(): Promise<BoardSnapshot | undefined> {
    const result = await this.redis.multi().getBuffer(KEYS.board).get(KEYS.seq).exec();
    if (!result || result.some(([err]) => err)) {
      throw new Error('board snapshot failed');
    }
    if (result[1][1] === null) {
      return undefined;
    }
    const stored = (result[0][1] as Buffer | null) ?? Buffer.alloc(0);
    const bytes = Buffer.alloc(boardBytes(this.size));
    stored.copy(bytes, 0, 0, Math.min(stored.length, bytes.length));
    return { seq: Number(result[1][1] ?? 0), bytes };
  }

  public async restore(snapshot: BoardSnapshot): Promise<void> {
    await this.redis.multi().set(KEYS.board, snapshot.bytes).set(KEYS.seq, snapshot.seq).del(KEYS.restoreLock).exec();
  }

  public async lockRestore(ttlMs: number): Promise<boolean> {
    return (await this.redis.set(KEYS.restoreLock, String(process.pid), 'PX', ttlMs, 'NX')) === 'OK';
  }

  public async unlockRestore(): Promise<void> {
    await this.redis.del(KEYS.restoreLock);
  }

  public async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/** The board inside one process: the embedded default for local runs without Redis. */
export class MemoryBoardStore implements BoardStore {
  private bytes: Buffer;
  private seq: number | undefined;
  private readonly cooldowns = new Map<string, number>();

  constructor(size: BoardSize) {
    this.bytes = Buffer.alloc(boardBytes(size));
  }

  public async place(index: number, color: number, user: string, cooldownMs: number): Promise<PlaceResult> {
    if (this.seq === undefined) {
      return { kind: 'missing' };
    }
    const until = this.cooldowns.get(user) ?? 0;
    if (until > Date.now()) {
      return { kind: 'cooldown', retryAfterMs: until - Date.now() };
    }
    if (cooldownMs > 0) {
      this.cooldowns.set(user, Date.now() + cooldownMs);
    }
    setPixel(this.bytes, index, color);
    return { kind: 'placed', seq: ++this.seq };
  }

  public async clearCooldown(user: string): Promise<void> {
    this.cooldowns.delete(user);
  }

  public async hasBoard(): Promise<boolean> {
    return this.seq !== undefined;
  }

  public async snapshot(): Promise<BoardSnapshot | undefined> {
    return this.seq === undefined ? undefined : { seq: this.seq, bytes: Buffer.from(this.bytes) };
  }

  public async restore(snapshot: BoardSnapshot): Promise<void> {
    this.bytes = Buffer.from(snapshot.bytes);
    this.seq = snapshot.seq;
  }

  public async lockRestore(): Promise<boolean> {
    return true;
  }

  public async unlockRestore(): Promise<void> {}

  public async close(): Promise<void> {}
}
