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
  | { readonly kind: 'placed'; readonly seq: number; readonly undo: PlacementUndo }
  | { readonly kind: 'cooldown'; readonly retryAfterMs: number }
  /** The client's address used up its placements of this cooldown period. */
  | { readonly kind: 'address_limit'; readonly retryAfterMs: number }
  /** The store lost its data (e.g. a restarted Redis without persistence): restore it, then retry. */
  | { readonly kind: 'missing' };

/** What it takes to take a placement back: the cell as it was before (colour and the sequence that set it). */
export interface PlacementUndo {
  readonly index: number;
  readonly seq: number;
  readonly user: string;
  /** The address counter the placement counted on, given back when it is taken back. */
  readonly address?: string;
  readonly prevColor: number;
  readonly prevSeq: number;
}

/** A placement taken back: the cell got its earlier colour under a new sequence number (publish it), or a newer placement kept it. */
export type UndoResult =
  | { readonly kind: 'restored'; readonly seq: number; readonly color: number }
  | { readonly kind: 'superseded' };

/** At most `max` placements per client address (see `addressKey`) in one cooldown period. */
export interface AddressLimit {
  readonly address: string;
  readonly max: number;
}

/** A consistent copy of the board and the sequence number of the last placement in it. */
export interface BoardSnapshot {
  readonly seq: number;
  readonly bytes: Buffer;
}

/** Live board state, cooldowns and the placement sequence, shared by every server process. */
export interface BoardStore {
  /** Atomically: refuse if the user is cooling down, else start their cooldown, set the pixel and take the next sequence number. */
  place(index: number, color: number, user: string, cooldownMs: number, limit?: AddressLimit): Promise<PlaceResult>;
  /** Counts a new session of a client address in a fixed window: the count so far and the time left of the window. */
  countSession(address: string, windowMs: number): Promise<{ count: number; retryAfterMs: number }>;
  /**
   * Takes back a placement that could not be stored durably, atomically: if no newer placement took the
   * cell, the cell gets back the colour it had before (skipping earlier placements on it that failed too)
   * under a new sequence number; the user's cooldown ends either way.
   */
  undo(placement: PlacementUndo): Promise<UndoResult>;
  /** Milliseconds until the user may place again (0 when not cooling down); read-only. */
  cooldownRemainingMs(user: string): Promise<number>;
  /** Keeps update records (9 bytes each, see protocol.ts): the newest `keep` by sequence number, none older than `maxAgeMs`. */
  recordUpdates(records: Buffer[], keep: number, maxAgeMs: number): Promise<void>;
  /** The kept records with a sequence above `after`, in sequence order; undefined when some were already dropped. */
  updatesAfter(after: number): Promise<Buffer[] | undefined>;
  /** The highest sequence among the kept records (0 when none): how far a server's update stream should have got. */
  latestKeptSeq(): Promise<number>;
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
// cellSeq: the sequence number that last set each cell, BITFIELD u32 #i (4 MB for a 1000x1000 board).
// failed: placements taken back while a newer one held their cell, seq -> "colour:seq" of the cell before.
const KEYS = {
  board: '{canvas}:board',
  seq: '{canvas}:seq',
  cellSeq: '{canvas}:cell-seq',
  failed: '{canvas}:failed',
  restoreLock: '{canvas}:restore-lock',
  cooldown: (user: string) => `{canvas}:cooldown:${user}`,
  placementsBy: (address: string) => `{canvas}:placements-by:${address}`,
  sessionsBy: (address: string) => `{canvas}:sessions-by:${address}`,
  recent: '{canvas}:recent',
  recentFloor: '{canvas}:recent-floor',
  recentAt: '{canvas}:recent-at',
};

// KEYS: recent, recentFloor, recentAt. ARGV: keep, now, maxAgeMs, then score, record pairs. The floor is
// the highest sequence dropped; recentAt holds each batch's highest sequence by the time it was kept.
const RECORD_SCRIPT = `
local top = 0
for i = 4, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
  top = math.max(top, tonumber(ARGV[i]))
end
redis.call('ZADD', KEYS[3], ARGV[2], top)
local floor = tonumber(redis.call('GET', KEYS[2]) or '0')
local cutoff = tonumber(ARGV[2]) - tonumber(ARGV[3])
for _, seq in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', cutoff)) do floor = math.max(floor, tonumber(seq)) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', cutoff)
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1])
if extra > 0 then
  floor = math.max(floor, tonumber(redis.call('ZRANGE', KEYS[1], extra - 1, extra - 1, 'WITHSCORES')[2]))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', floor)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', floor)
redis.call('SET', KEYS[2], floor)
return 1
`;

// KEYS: board, seq, cooldown, cellSeq, placements of the address. ARGV: index, colour, cooldownMs, max per address (0 = none).
const PLACE_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 0 then return {-1, 0, 0, 0} end
local ttl = redis.call('PTTL', KEYS[3])
if ttl > 0 then return {0, ttl, 0, 0} end
local cooldown, max = tonumber(ARGV[3]), tonumber(ARGV[4])
if max > 0 and cooldown > 0 then
  local used = tonumber(redis.call('GET', KEYS[5]) or '0')
  if used >= max then
    local left = redis.call('PTTL', KEYS[5])
    if left > 0 then return {-2, left, 0, 0} end
  end
  if redis.call('INCR', KEYS[5]) == 1 or redis.call('PTTL', KEYS[5]) < 0 then redis.call('PEXPIRE', KEYS[5], cooldown) end
end
if cooldown > 0 then redis.call('SET', KEYS[3], '1', 'PX', cooldown) end
local seq = redis.call('INCR', KEYS[2])
local prev = redis.call('BITFIELD', KEYS[1], 'SET', 'u4', '#' .. ARGV[1], ARGV[2])[1]
local prevSeq = redis.call('BITFIELD', KEYS[4], 'SET', 'u32', '#' .. ARGV[1], seq)[1]
return {1, seq, prev, prevSeq}
`;

// KEYS: board, seq, cellSeq, failed, cooldown, placements of the address. ARGV: index, seq, prevColor, prevSeq.
// The failed hash lives a minute after the last failure (placements pending on one cell settle within
// seconds) and is emptied when it grows past 100000 entries during a long outage.
const UNDO_SCRIPT = `
local color, prevSeq = tonumber(ARGV[3]), tonumber(ARGV[4])
for _ = 1, 1000 do
  if prevSeq == 0 then break end
  local before = redis.call('HGET', KEYS[4], prevSeq)
  if not before then break end
  local c, s = string.match(before, '^(%d+):(%d+)$')
  color, prevSeq = tonumber(c), tonumber(s)
end
redis.call('DEL', KEYS[5])
if tonumber(redis.call('GET', KEYS[6]) or '0') > 0 then redis.call('DECR', KEYS[6]) end
local current = redis.call('BITFIELD', KEYS[3], 'GET', 'u32', '#' .. ARGV[1])[1]
if current ~= tonumber(ARGV[2]) then
  if redis.call('HLEN', KEYS[4]) > 100000 then redis.call('DEL', KEYS[4]) end
  redis.call('HSET', KEYS[4], ARGV[2], color .. ':' .. prevSeq)
  redis.call('PEXPIRE', KEYS[4], 60000)
  return {0, 0, 0}
end
local seq = redis.call('INCR', KEYS[2])
redis.call('BITFIELD', KEYS[1], 'SET', 'u4', '#' .. ARGV[1], color)
redis.call('BITFIELD', KEYS[3], 'SET', 'u32', '#' .. ARGV[1], seq)
return {1, seq, color}
`;

const SESSION_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
`;

type WithPlace = (Redis | Cluster) & {
  canvasPlace(
    board: string, seq: string, cooldown: string, cellSeq: string, byAddress: string,
    index: number, color: number, cooldownMs: number, maxPerAddress: number,
  ): Promise<[number, number, number, number]>;
  canvasSession(key: string, windowMs: number): Promise<[number, number]>;
  canvasRecord(
    recent: string, floor: string, at: string, keep: number, now: number, maxAgeMs: number,
    ...scoresAndRecords: Array<number | Buffer>
  ): Promise<number>;
  canvasUndo(
    board: string, seq: string, cellSeq: string, failed: string, cooldown: string, byAddress: string,
    index: number, placedSeq: number, prevColor: number, prevSeq: number,
  ): Promise<[number, number, number]>;
};

/** The board in Redis or Valkey: a BITFIELD of u4 cells, a sequence counter and per-user cooldown keys. */
export class RedisBoardStore implements BoardStore {
  private readonly redis: WithPlace;

  constructor(redis: Redis | Cluster, private readonly size: BoardSize) {
    redis.defineCommand('canvasPlace', { numberOfKeys: 5, lua: PLACE_SCRIPT });
    redis.defineCommand('canvasUndo', { numberOfKeys: 6, lua: UNDO_SCRIPT });
    redis.defineCommand('canvasSession', { numberOfKeys: 1, lua: SESSION_SCRIPT });
    redis.defineCommand('canvasRecord', { numberOfKeys: 3, lua: RECORD_SCRIPT });
    this.redis = redis as WithPlace;
  }

  public async place(index: number, color: number, user: string, cooldownMs: number, limit?: AddressLimit): Promise<PlaceResult> {
    const [status, value, prevColor, prevSeq] = await this.redis.canvasPlace(
      KEYS.board, KEYS.seq, KEYS.cooldown(user), KEYS.cellSeq, KEYS.placementsBy(limit?.address ?? ''), index, color, cooldownMs, limit?.max ?? 0);
    switch (status) {
      case -1: return { kind: 'missing' };
      case -2: return { kind: 'address_limit', retryAfterMs: value };
      case 0: return { kind: 'cooldown', retryAfterMs: value };
      default: return { kind: 'placed', seq: value, undo: { index, seq: value, user, address: limit?.address, prevColor, prevSeq } };
    }
  }

  public async countSession(address: string, windowMs: number): Promise<{ count: number; retryAfterMs: number }> {
    const [count, retryAfterMs] = await this.redis.canvasSession(KEYS.sessionsBy(address), windowMs);
    return { count, retryAfterMs };
  }

  public async undo(p: PlacementUndo): Promise<UndoResult> {
    const [restored, seq, color] = await this.redis.canvasUndo(
      KEYS.board, KEYS.seq, KEYS.cellSeq, KEYS.failed, KEYS.cooldown(p.user), KEYS.placementsBy(p.address ?? ''),
      p.index, p.seq, p.prevColor, p.prevSeq);
    return restored === 1 ? { kind: 'restored', seq, color } : { kind: 'superseded' };
  }

  public async cooldownRemainingMs(user: string): Promise<number> {
    return Math.max(0, await this.redis.pttl(KEYS.cooldown(user)));
  }

  public async hasBoard(): Promise<boolean> {
    return (await this.redis.exists(KEYS.seq)) === 1;
  }

  public async recordUpdates(records: Buffer[], keep: number, maxAgeMs: number): Promise<void> {
    const pairs = records.flatMap(r => [r.readUInt32LE(0), r]);
    await this.redis.canvasRecord(KEYS.recent, KEYS.recentFloor, KEYS.recentAt, keep, Date.now(), maxAgeMs, ...pairs);
  }

  public async latestKeptSeq(): Promise<number> {
    const top = await this.redis.zrevrange(KEYS.recent, 0, 0, 'WITHSCORES');
    return Number(top[1] ?? 0);
  }

  public async updatesAfter(after: number): Promise<Buffer[] | undefined> {
    const result = await this.redis.multi().get(KEYS.recentFloor).zrangebyscoreBuffer(KEYS.recent, `(${after}`, '+inf').exec();
    if (!result || result.some(([err]) => err)) {
      throw new Error('updates read failed');
    }
    return Number(result[0][1] ?? 0) > after ? undefined : result[1][1] as Buffer[];
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
    // Cell sequence numbers start over: only placements made after the restore can be taken back.
    await this.redis.multi().set(KEYS.board, snapshot.bytes).set(KEYS.seq, snapshot.seq)
      .del(KEYS.cellSeq, KEYS.failed, KEYS.restoreLock, KEYS.recent, KEYS.recentAt).set(KEYS.recentFloor, snapshot.seq).exec();
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
  private readonly cellSeq = new Map<number, number>();
  private readonly windows = new Map<string, { count: number; until: number }>();
  private recent: Buffer[] = [];
  private recentAt: Array<{ at: number; seq: number }> = [];
  private recentFloor = 0;
  private readonly failed = new Map<number, { color: number; seq: number }>();

  constructor(size: BoardSize) {
    this.bytes = Buffer.alloc(boardBytes(size));
  }

  public async place(index: number, color: number, user: string, cooldownMs: number, limit?: AddressLimit): Promise<PlaceResult> {
    if (this.seq === undefined) {
      return { kind: 'missing' };
    }
    const until = this.cooldowns.get(user) ?? 0;
    if (until > Date.now()) {
      return { kind: 'cooldown', retryAfterMs: until - Date.now() };
    }
    if (limit && limit.max > 0 && cooldownMs > 0) {
      const window = this.window(`p:${limit.address}`);
      if (window && window.count >= limit.max) {
        return { kind: 'address_limit', retryAfterMs: window.until - Date.now() };
      }
      this.count(`p:${limit.address}`, cooldownMs);
    }
    if (cooldownMs > 0) {
      this.cooldowns.set(user, Date.now() + cooldownMs);
    }
    const seq = ++this.seq;
    const prevColor = getPixel(this.bytes, index);
    const prevSeq = this.cellSeq.get(index) ?? 0;
    setPixel(this.bytes, index, color);
    this.cellSeq.set(index, seq);
    return { kind: 'placed', seq, undo: { index, seq, user, address: limit?.address, prevColor, prevSeq } };
  }

  public async countSession(address: string, windowMs: number): Promise<{ count: number; retryAfterMs: number }> {
    const window = this.count(`s:${address}`, windowMs);
    return { count: window.count, retryAfterMs: window.until - Date.now() };
  }

  private window(key: string): { count: number; until: number } | undefined {
    const window = this.windows.get(key);
    if (window && window.until <= Date.now()) {
      this.windows.delete(key);
      return undefined;
    }
    return window;
  }

  private count(key: string, windowMs: number): { count: number; until: number } {
    if (this.windows.size > 100_000) {
      for (const [k, w] of this.windows) {
        if (w.until <= Date.now()) {
          this.windows.delete(k);
        }
      }
    }
    const window = this.window(key) ?? { count: 0, until: Date.now() + windowMs };
    window.count++;
    this.windows.set(key, window);
    return window;
  }

  public async undo(p: PlacementUndo): Promise<UndoResult> {
    let color = p.prevColor;
    let prevSeq = p.prevSeq;
    for (let before = this.failed.get(prevSeq); prevSeq !== 0 && before; before = this.failed.get(prevSeq)) {
      ({ color, seq: prevSeq } = before);
    }
    this.cooldowns.delete(p.user);
    const window = p.address === undefined ? undefined : this.window(`p:${p.address}`);
    if (window && window.count > 0) {
      window.count--;
    }
    if (this.cellSeq.get(p.index) !== p.seq || this.seq === undefined) {
      if (this.failed.size > 100_000) {
        this.failed.clear();
      }
      this.failed.set(p.seq, { color, seq: prevSeq });
      return { kind: 'superseded' };
    }
    const seq = ++this.seq;
    setPixel(this.bytes, p.index, color);
    this.cellSeq.set(p.index, seq);
    return { kind: 'restored', seq, color };
  }

  public async cooldownRemainingMs(user: string): Promise<number> {
    return Math.max(0, (this.cooldowns.get(user) ?? 0) - Date.now());
  }

  public async hasBoard(): Promise<boolean> {
    return this.seq !== undefined;
  }

  public async recordUpdates(records: Buffer[], keep: number, maxAgeMs: number): Promise<void> {
    this.recent.push(...records);
    this.recent.sort((a, b) => a.readUInt32LE(0) - b.readUInt32LE(0));
    this.recentAt.push({ at: Date.now(), seq: Math.max(0, ...records.map(r => r.readUInt32LE(0))) });
    const cutoff = Date.now() - maxAgeMs;
    for (const old of this.recentAt.filter(b => b.at <= cutoff)) {
      this.recentFloor = Math.max(this.recentFloor, old.seq);
    }
    const extra = this.recent.length - keep;
    if (extra > 0) {
      this.recentFloor = Math.max(this.recentFloor, this.recent[extra - 1].readUInt32LE(0));
    }
    this.recent = this.recent.filter(r => r.readUInt32LE(0) > this.recentFloor);
    this.recentAt = this.recentAt.filter(b => b.at > cutoff && b.seq > this.recentFloor);
  }

  public async latestKeptSeq(): Promise<number> {
    return this.recent.at(-1)?.readUInt32LE(0) ?? 0;
  }

  public async updatesAfter(after: number): Promise<Buffer[] | undefined> {
    return this.recentFloor > after ? undefined : this.recent.filter(r => r.readUInt32LE(0) > after);
  }

  public async snapshot(): Promise<BoardSnapshot | undefined> {
    return this.seq === undefined ? undefined : { seq: this.seq, bytes: Buffer.from(this.bytes) };
  }

  public async restore(snapshot: BoardSnapshot): Promise<void> {
    this.bytes = Buffer.from(snapshot.bytes);
    this.seq = snapshot.seq;
    this.cellSeq.clear();
    this.failed.clear();
    this.recent = [];
    this.recentAt = [];
    this.recentFloor = snapshot.seq;
  }

  public async lockRestore(): Promise<boolean> {
    return true;
  }

  public async unlockRestore(): Promise<void> {}

  public async close(): Promise<void> {}
}
