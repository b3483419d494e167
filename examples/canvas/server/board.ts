import { Cluster, Redis } from 'ioredis';
import { TurnBatch } from '../../kit';

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
  /** `epoch`: the restore epoch of the board it went on (see `settle`). */
  | { readonly kind: 'placed'; readonly seq: number; readonly epoch: number; readonly undo: PlacementUndo }
  | { readonly kind: 'cooldown'; readonly retryAfterMs: number }
  /** The client's address used up its placements of this cooldown period. */
  | { readonly kind: 'address_limit'; readonly retryAfterMs: number }
  /**
   * The store lost its data (e.g. a restarted Redis without persistence), or holds a board it cannot trust
   * (Redis restarted or failed over since the board was restored, so it may have lost the last writes):
   * restore it, then retry.
   */
  | { readonly kind: 'missing' }
  /** A restore fenced this board's epoch (see sequence.ts): restore over it, then retry. */
  | { readonly kind: 'stale'; readonly epoch: number };

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

/** A board rebuilt from the placement history, to be restored under a restore epoch. */
export interface RebuiltBoard extends BoardSnapshot {
  /** The restore epoch (sequence.ts `beginRestore`). */
  readonly epoch: number;
  /** The stored sequence of each cell's colour, u32 big-endian per cell (`BITFIELD u32 #i`). */
  readonly cellSeq: Buffer;
}

/** What a conditional restore came to: done, the lock was no longer ours, or a board of a newer epoch is there. */
export type RestoreOutcome = 'restored' | 'lock_lost' | 'newer_board';

/** A placement that is stored durably, to be settled on the live board (see `settle`). */
export interface StoredPlacement {
  readonly index: number;
  readonly seq: number;
  readonly color: number;
  readonly epoch: number;
}

/** Where a Redis board takes blocks of sequence numbers from: the durable high-water mark (sequence.ts). */
export interface SequenceSource {
  /** Numbers taken at once. */
  readonly block: number;
  /** Raises the durable high-water mark by a block for a board of `epoch`; undefined when a restore fenced it. */
  reserve(epoch: number): Promise<number | undefined>;
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
  /** Whether the store holds a board it can trust (see `PlaceResult` 'missing'). */
  hasBoard(): Promise<boolean>;
  /** The restore epoch of the board, undefined when the store holds none it can trust. */
  boardEpoch(): Promise<number | undefined>;
  /**
   * Called once a placement is stored. A placement handed out before a restore whose write landed after
   * the restore's scan is missing from the restored board: if no newer stored placement holds its cell, the
   * cell takes its colour. Resolves with the sequence to publish it under: its own, or a new one above every
   * board already handed out, so clients that hold the restored board apply it too.
   */
  settle(placement: StoredPlacement): Promise<number>;
  /** The board, or undefined when the store holds none (see `PlaceResult` 'missing'). */
  snapshot(): Promise<BoardSnapshot | undefined>;
  /** Replaces board and sequence unconditionally (a fresh store, tests); servers use `restoreRebuilt`. */
  restore(snapshot: BoardSnapshot): Promise<void>;
  /**
   * Atomically replaces board, sequence and cell sequences with a rebuilt board and releases the restore
   * lock, only while `token` still holds the lock and no trusted board of the same or a newer epoch is there.
   */
  restoreRebuilt(board: RebuiltBoard, token: string): Promise<RestoreOutcome>;
  /** Takes the right to restore for `ttlMs` under `token`; false when another process holds it. */
  lockRestore(token: string, ttlMs: number): Promise<boolean>;
  /** Extends the restore lock to `ttlMs` from now, only while `token` holds it; false when it was lost. */
  extendRestore(token: string, ttlMs: number): Promise<boolean>;
  /** Gives the right to restore back without restoring, only while `token` holds it. */
  unlockRestore(token: string): Promise<void>;
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
  seqLimit: '{canvas}:seq-limit',
  epoch: '{canvas}:epoch',
  node: '{canvas}:node',
  cooldown: (user: string) => `{canvas}:cooldown:${user}`,
  placementsBy: (address: string) => `{canvas}:placements-by:${address}`,
  sessionsBy: (address: string) => `{canvas}:sessions-by:${address}`,
  recent: '{canvas}:recent',
  recentFloor: '{canvas}:recent-floor',
  recentAt: '{canvas}:recent-at',
};

// Sequence safety (see sequence.ts and README "Sequence numbers"): `seq-limit` is the highest number this
// board may hand out, raised only to a durably reserved high-water mark; `epoch` is the restore epoch of the
// board; `node` the run_id of the Redis server the board was restored on. A restart or a failover puts the
// keys on a server with another run_id, and such a server may have lost the last writes (a replica behind
// its primary, an older snapshot) while keeping the keys, so its board is not trusted: it is rebuilt.
// Where a service refuses INFO in scripts or leaves run_id out, every board counts as on the same server
// (no failover detection, never an error): ElastiCache Serverless keeps its data in several zones itself
// (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/WhatIs.deployment.html).
const NODE_LUA = `
local function node()
  local info = redis.pcall('INFO', 'server')
  if type(info) ~= 'string' then return '' end
  return string.match(info, 'run_id:(%x+)') or ''
end
`;

// KEYS: recent, recentFloor, recentAt. ARGV: keep, now, maxAgeMs, then score, record pairs (one ZADD, so at
// most a few thousand pairs: Lua's unpack limit; publishes send at most 1,000). The floor is
// the highest sequence dropped; recentAt holds each batch's highest sequence by the time it was kept.
const RECORD_SCRIPT = `
local top = 0
for i = 4, #ARGV, 2 do top = math.max(top, tonumber(ARGV[i])) end
redis.call('ZADD', KEYS[1], unpack(ARGV, 4))
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

// KEYS: board, seq, cellSeq, seq-limit, epoch, node, then the cooldown and address-placements keys of each
// placement. ARGV: 1 to keep to seq-limit, then index, colour, cooldownMs, max per address (0 = none) of each.
// The placements of one batch go in order, as if placed one by one: a user twice in one batch cools down
// after the first. Returns status, value, previous colour, previous cell sequence, epoch and numbers left
// below the limit of each; status -3 (nothing written, value the sequence so far): reserve numbers, then retry it.
const PLACE_SCRIPT = NODE_LUA + `
local n = (#ARGV - 1) / 4
local out, epoch = {}, 0
local function answer(status, value, prev, prevSeq, left)
  out[#out + 1] = status; out[#out + 1] = value; out[#out + 1] = prev; out[#out + 1] = prevSeq; out[#out + 1] = epoch; out[#out + 1] = left
end
if redis.call('EXISTS', KEYS[2]) == 0 or redis.call('GET', KEYS[6]) ~= node() then
  for i = 1, n do answer(-1, 0, 0, 0, 0) end
  return out
end
epoch = tonumber(redis.call('GET', KEYS[5]) or '0')
local limit = tonumber(redis.call('GET', KEYS[4]) or '0')
local first = tonumber(redis.call('GET', KEYS[2]))
local seq = first
-- Few calls per placement (each redis.call costs more than the command itself): the cooldown is taken
-- with SET NX and the address counted with INCR first, both given back in the rare refusal; the sequence
-- is counted here and stored once.
for i = 1, n do
  local a, cooldownKey, addressKey = 2 + (i - 1) * 4, KEYS[5 + i * 2], KEYS[6 + i * 2]
  local cooldown, max = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local counted = max > 0 and cooldown > 0
  if ARGV[1] == '1' and seq >= limit then answer(-3, seq, 0, 0, 0)
  elseif cooldown > 0 and not redis.call('SET', cooldownKey, '1', 'PX', cooldown, 'NX') then
    answer(0, redis.call('PTTL', cooldownKey), 0, 0, 0)
  else
    local refused = 0
    if counted then
      local used = redis.call('INCR', addressKey)
      local ttl = used == 1 and -1 or redis.call('PTTL', addressKey)
      if used > max and ttl > 0 then
        redis.call('DECR', addressKey)
        redis.call('DEL', cooldownKey)
        refused = ttl
      elseif ttl < 0 then
        redis.call('PEXPIRE', addressKey, cooldown)
      end
    end
    if refused > 0 then answer(-2, refused, 0, 0, 0)
    else
      seq = seq + 1
      local prev = redis.call('BITFIELD', KEYS[1], 'SET', 'u4', '#' .. ARGV[a], ARGV[a + 1])[1]
      local prevSeq = redis.call('BITFIELD', KEYS[3], 'SET', 'u32', '#' .. ARGV[a], seq)[1]
      answer(1, seq, prev, prevSeq, limit - seq)
    end
  end
end
if seq ~= first then redis.call('SET', KEYS[2], seq) end
return out
`;

// KEYS: seq, seq-limit, epoch. ARGV: epoch, reserved high-water mark. Raises the limit of a board of that epoch.
const RAISE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 or (redis.call('GET', KEYS[3]) or '0') ~= ARGV[1] then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[2]) then redis.call('SET', KEYS[2], ARGV[2]) end
return 1
`;

// KEYS: board, seq, cellSeq, seq-limit, epoch, node. ARGV: 1 to keep to seq-limit, then (epoch, index, seq,
// colour) per stored placement. Returns {1, epoch, sequence to publish each under}, or {-3, epoch}: reserve.
const SETTLE_SCRIPT = NODE_LUA + `
local epoch = redis.call('GET', KEYS[5]) or '0'
local out = {1, tonumber(epoch)}
local differ = false
for i = 2, #ARGV, 4 do differ = differ or ARGV[i] ~= epoch end
-- Placed on this very board (the usual case): nothing to settle, and no need to ask INFO.
if not differ then
  for i = 2, #ARGV, 4 do out[#out + 1] = tonumber(ARGV[i + 2]) end
  return out
end
local trusted = redis.call('EXISTS', KEYS[2]) == 1 and redis.call('GET', KEYS[6]) == node()
local function late(i)
  return trusted and ARGV[i] ~= epoch and redis.call('BITFIELD', KEYS[3], 'GET', 'u32', '#' .. ARGV[i + 1])[1] < tonumber(ARGV[i + 2])
end
if trusted and ARGV[1] == '1' then
  local count = 0
  for i = 2, #ARGV, 4 do if late(i) then count = count + 1 end end
  if count > 0 and tonumber(redis.call('GET', KEYS[2])) + count > tonumber(redis.call('GET', KEYS[4]) or '0') then return {-3, tonumber(epoch)} end
end
for i = 2, #ARGV, 4 do
  if late(i) then
    redis.call('BITFIELD', KEYS[1], 'SET', 'u4', '#' .. ARGV[i + 1], ARGV[i + 3])
    redis.call('BITFIELD', KEYS[3], 'SET', 'u32', '#' .. ARGV[i + 1], ARGV[i + 2])
    out[#out + 1] = redis.call('INCR', KEYS[2])
  else
    out[#out + 1] = tonumber(ARGV[i + 2])
  end
end
return out
`;

// KEYS: board, seq, cellSeq, failed, restore lock, recent, recentAt, recentFloor, seq-limit, epoch, node.
// ARGV: lock token ('' = unconditional), seq, epoch, board bytes, cell sequences ('' = none).
const RESTORE_SCRIPT = NODE_LUA + `
local here = node()
if ARGV[1] ~= '' then
  if redis.call('GET', KEYS[5]) ~= ARGV[1] then return 0 end
  if redis.call('EXISTS', KEYS[2]) == 1 and redis.call('GET', KEYS[11]) == here
    and tonumber(redis.call('GET', KEYS[10]) or '0') >= tonumber(ARGV[3]) then return -1 end
end
redis.call('SET', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[2])
if ARGV[5] == '' then redis.call('DEL', KEYS[3]) else redis.call('SET', KEYS[3], ARGV[5]) end
redis.call('DEL', KEYS[4], KEYS[5], KEYS[6], KEYS[7])
redis.call('SET', KEYS[8], ARGV[2])
redis.call('SET', KEYS[9], ARGV[2])
redis.call('SET', KEYS[10], ARGV[3])
redis.call('SET', KEYS[11], here)
return 1
`;

// KEYS: board, seq, node. The board and its sequence when the board is trusted, else nil.
const SNAPSHOT_SCRIPT = NODE_LUA + `
local seq = redis.call('GET', KEYS[2])
if not seq or redis.call('GET', KEYS[3]) ~= node() then return false end
return {redis.call('GET', KEYS[1]) or '', seq}
`;

// KEYS: seq, epoch, node. The epoch of a trusted board, else -1.
const EPOCH_SCRIPT = NODE_LUA + `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('GET', KEYS[3]) ~= node() then return -1 end
return tonumber(redis.call('GET', KEYS[2]) or '0')
`;

// KEYS: lock. ARGV: token, ttlMs (0 = release). Only the holder extends or releases the lock.
const LOCK_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`;

// KEYS: board, seq, cellSeq, failed, cooldown, placements of the address, seq-limit, epoch, node. ARGV: index,
// seq, prevColor, prevSeq, 1 to keep to seq-limit. The failed hash lives a minute after the last failure
// (placements pending on one cell settle within seconds) and is emptied when it grows past 100000 entries
// during a long outage. Status -3 (before any write): reserve numbers, then retry.
const UNDO_SCRIPT = NODE_LUA + `
local trusted = redis.call('EXISTS', KEYS[2]) == 1 and redis.call('GET', KEYS[9]) == node()
if trusted and ARGV[5] == '1' and tonumber(redis.call('GET', KEYS[2])) >= tonumber(redis.call('GET', KEYS[7]) or '0') then
  return {-3, 0, 0, tonumber(redis.call('GET', KEYS[8]) or '0')}
end
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
if not trusted then return {0, 0, 0, 0} end
local current = redis.call('BITFIELD', KEYS[3], 'GET', 'u32', '#' .. ARGV[1])[1]
if current ~= tonumber(ARGV[2]) then
  if redis.call('HLEN', KEYS[4]) > 100000 then redis.call('DEL', KEYS[4]) end
  redis.call('HSET', KEYS[4], ARGV[2], color .. ':' .. prevSeq)
  redis.call('PEXPIRE', KEYS[4], 60000)
  return {0, 0, 0, 0}
end
local seq = redis.call('INCR', KEYS[2])
redis.call('BITFIELD', KEYS[1], 'SET', 'u4', '#' .. ARGV[1], color)
redis.call('BITFIELD', KEYS[3], 'SET', 'u32', '#' .. ARGV[1], seq)
return {1, seq, color, 0}
`;

const SESSION_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
`;

type WithPlace = (Redis | Cluster) & {
  /** Takes the number of keys first (two per placement beyond the six shared ones). */
  canvasPlace(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<number[]>;
  canvasRaise(seq: string, limit: string, epoch: string, boardEpoch: number, top: number): Promise<number>;
  canvasSettle(
    board: string, seq: string, cellSeq: string, limit: string, epoch: string, node: string, useLimit: number, ...placements: number[]
  ): Promise<number[]>;
  canvasRestore(
    board: string, seq: string, cellSeq: string, failed: string, lock: string, recent: string, recentAt: string, recentFloor: string,
    limit: string, epoch: string, node: string, token: string, boardSeq: number, boardEpoch: number, bytes: Buffer, cellSeqBytes: Buffer | string,
  ): Promise<number>;
  canvasEpoch(seq: string, epoch: string, node: string): Promise<number>;
  canvasSnapshotBuffer(board: string, seq: string, node: string): Promise<[Buffer, Buffer] | null>;
  canvasLock(lock: string, token: string, ttlMs: number): Promise<number>;
  canvasSession(key: string, windowMs: number): Promise<[number, number]>;
  canvasRecord(
    recent: string, floor: string, at: string, keep: number, now: number, maxAgeMs: number,
    ...scoresAndRecords: Array<number | Buffer>
  ): Promise<number>;
  canvasUndo(
    board: string, seq: string, cellSeq: string, failed: string, cooldown: string, byAddress: string, limit: string, epoch: string, node: string,
    index: number, placedSeq: number, prevColor: number, prevSeq: number, useLimit: number,
  ): Promise<[number, number, number, number]>;
};

/** One placement asked of the place script. */
interface Placing {
  readonly index: number;
  readonly color: number;
  readonly user: string;
  readonly cooldownMs: number;
  readonly limit?: AddressLimit;
}

/** Tries a script that may ask for sequence numbers first (status -3) a few times. */
const RESERVE_ATTEMPTS = 4;

/**
 * The board in Redis or Valkey: a BITFIELD of u4 cells, a sequence counter and per-user cooldown keys.
 * With a `SequenceSource` (servers always pass one) the counter stays below a durably reserved limit; without
 * one (tests of other parts) it has no limit.
 */
export class RedisBoardStore implements BoardStore {
  private readonly redis: WithPlace;
  private readonly useLimit: number;
  private reserving?: { epoch: number; done: Promise<boolean> };
  /** Placements asked for in one event-loop turn, placed by one script. */
  private readonly placing = new TurnBatch<Placing, number[]>(items => this.placeBatch(items));
  /** Placements stored in one event-loop turn (a DynamoDB batch), settled by one script. */
  private readonly settling = new TurnBatch<StoredPlacement, number>(items => this.settleBatch(items));

  constructor(redis: Redis | Cluster, private readonly size: BoardSize, private readonly sequences?: SequenceSource) {
    redis.defineCommand('canvasPlace', { lua: PLACE_SCRIPT });
    redis.defineCommand('canvasUndo', { numberOfKeys: 9, lua: UNDO_SCRIPT });
    redis.defineCommand('canvasSession', { numberOfKeys: 1, lua: SESSION_SCRIPT });
    redis.defineCommand('canvasRecord', { numberOfKeys: 3, lua: RECORD_SCRIPT });
    redis.defineCommand('canvasRaise', { numberOfKeys: 3, lua: RAISE_SCRIPT });
    redis.defineCommand('canvasSettle', { numberOfKeys: 6, lua: SETTLE_SCRIPT });
    redis.defineCommand('canvasRestore', { numberOfKeys: 11, lua: RESTORE_SCRIPT });
    redis.defineCommand('canvasEpoch', { numberOfKeys: 3, lua: EPOCH_SCRIPT });
    redis.defineCommand('canvasSnapshot', { numberOfKeys: 3, lua: SNAPSHOT_SCRIPT });
    redis.defineCommand('canvasLock', { numberOfKeys: 1, lua: LOCK_SCRIPT });
    this.redis = redis as WithPlace;
    this.useLimit = sequences ? 1 : 0;
  }

  public async place(index: number, color: number, user: string, cooldownMs: number, limit?: AddressLimit): Promise<PlaceResult> {
    let attempt = 0;
    let seqSeen = -1;
    for (;;) {
      const [status, value, prevColor, prevSeq, epoch, left] = await this.placing.add({ index, color, user, cooldownMs, limit });
      switch (status) {
        case -1: return { kind: 'missing' };
        case -2: return { kind: 'address_limit', retryAfterMs: value };
        case -3:
          // Placements ahead of this one in its batch may use up a whole reservation: that is progress, so
          // only reservations after which no number was handed out count as failed attempts.
          attempt = value > seqSeen ? 1 : attempt + 1;
          seqSeen = value;
          if (!await this.reserve(epoch, attempt)) {
            return { kind: 'stale', epoch };
          }
          continue;
        case 0: return { kind: 'cooldown', retryAfterMs: value };
      }
      if (this.sequences && left < this.sequences.block / 2) {
        // Ahead of need, so placements rarely wait for a reservation; a failure shows on the next one.
        void this.reserve(epoch, 1).catch(() => undefined);
      }
      return { kind: 'placed', seq: value, epoch, undo: { index, seq: value, user, address: limit?.address, prevColor, prevSeq } };
    }
  }

  /**
   * Reserves a block of sequence numbers durably for a board of `epoch` and raises the board's limit to it;
   * false when a restore fenced that epoch. One reservation at a time per process and epoch.
   */
  private async reserve(epoch: number, attempt: number): Promise<boolean> {
    if (!this.sequences) {
      throw new Error('the board asked for sequence numbers, but this store has no sequence source');
    }
    if (attempt > RESERVE_ATTEMPTS) {
      throw new Error(`no sequence numbers after ${RESERVE_ATTEMPTS} reservations`);
    }
    const sequences = this.sequences;
    if (this.reserving?.epoch === epoch) {
      return this.reserving.done;
    }
    const done = (async () => {
      const top = await sequences.reserve(epoch);
      return top !== undefined && await this.redis.canvasRaise(KEYS.seq, KEYS.seqLimit, KEYS.epoch, epoch, top) === 1;
    })();
    const reserving = { epoch, done };
    this.reserving = reserving;
    const clear = () => {
      if (this.reserving === reserving) {
        this.reserving = undefined;
      }
    };
    done.then(clear, clear);
    return done;
  }

  private async placeBatch(items: Placing[]): Promise<number[][]> {
    const keys = items.flatMap(p => [KEYS.cooldown(p.user), KEYS.placementsBy(p.limit?.address ?? '')]);
    const args = items.flatMap(p => [p.index, p.color, p.cooldownMs, p.limit?.max ?? 0]);
    const out = await this.redis.canvasPlace(6 + keys.length, KEYS.board, KEYS.seq, KEYS.cellSeq, KEYS.seqLimit, KEYS.epoch, KEYS.node,
      ...keys, this.useLimit, ...args);
    return items.map((_, i) => out.slice(i * 6, i * 6 + 6));
  }

  public settle(placement: StoredPlacement): Promise<number> {
    return this.settling.add(placement);
  }

  private async settleBatch(batch: StoredPlacement[]): Promise<number[]> {
    const args = batch.flatMap(p => [p.epoch, p.index, p.seq, p.color]);
    for (let attempt = 1; ; attempt++) {
      const out = await this.redis.canvasSettle(KEYS.board, KEYS.seq, KEYS.cellSeq, KEYS.seqLimit, KEYS.epoch, KEYS.node, this.useLimit, ...args);
      if (out[0] !== -3) {
        return out.slice(2);
      }
      if (!await this.reserve(out[1], attempt)) {
        // A restore fenced this board: the rebuild that replaces it reads the placements from the table.
        return batch.map(p => p.seq);
      }
    }
  }

  public async countSession(address: string, windowMs: number): Promise<{ count: number; retryAfterMs: number }> {
    const [count, retryAfterMs] = await this.redis.canvasSession(KEYS.sessionsBy(address), windowMs);
    return { count, retryAfterMs };
  }

  public async undo(p: PlacementUndo): Promise<UndoResult> {
    for (let attempt = 1; ; attempt++) {
      const [restored, seq, color, epoch] = await this.redis.canvasUndo(
        KEYS.board, KEYS.seq, KEYS.cellSeq, KEYS.failed, KEYS.cooldown(p.user), KEYS.placementsBy(p.address ?? ''), KEYS.seqLimit, KEYS.epoch, KEYS.node,
        p.index, p.seq, p.prevColor, p.prevSeq, this.useLimit);
      if (restored === -3) {
        if (!await this.reserve(epoch, attempt)) {
          return { kind: 'superseded' }; // a restore fenced the board; its rebuild never had the placement
        }
        continue;
      }
      return restored === 1 ? { kind: 'restored', seq, color } : { kind: 'superseded' };
    }
  }

  public async cooldownRemainingMs(user: string): Promise<number> {
    return Math.max(0, await this.redis.pttl(KEYS.cooldown(user)));
  }

  public async hasBoard(): Promise<boolean> {
    return (await this.boardEpoch()) !== undefined;
  }

  public async boardEpoch(): Promise<number | undefined> {
    const epoch = await this.redis.canvasEpoch(KEYS.seq, KEYS.epoch, KEYS.node);
    return epoch < 0 ? undefined : epoch;
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
    // A script, so the run_id compared is that of the node holding the board (cluster mode included).
    const result = await this.redis.canvasSnapshotBuffer(KEYS.board, KEYS.seq, KEYS.node);
    if (!result) {
      return undefined;
    }
    const [stored, seq] = result;
    const bytes = Buffer.alloc(boardBytes(this.size));
    stored.copy(bytes, 0, 0, Math.min(stored.length, bytes.length));
    return { seq: Number(seq.toString()), bytes };
  }

  public async restore(snapshot: BoardSnapshot): Promise<void> {
    // Cell sequence numbers start over: only placements made after the restore can be taken back.
    await this.runRestore('', { ...snapshot, epoch: 0, cellSeq: Buffer.alloc(0) });
  }

  public async restoreRebuilt(board: RebuiltBoard, token: string): Promise<RestoreOutcome> {
    if (!token) {
      throw new Error('a restore of a rebuilt board needs the restore lock token');
    }
    const outcome = await this.runRestore(token, board);
    return outcome === 1 ? 'restored' : outcome === 0 ? 'lock_lost' : 'newer_board';
  }

  private runRestore(token: string, board: RebuiltBoard): Promise<number> {
    return this.redis.canvasRestore(KEYS.board, KEYS.seq, KEYS.cellSeq, KEYS.failed, KEYS.restoreLock, KEYS.recent, KEYS.recentAt, KEYS.recentFloor,
      KEYS.seqLimit, KEYS.epoch, KEYS.node, token, board.seq, board.epoch, board.bytes, board.cellSeq.length > 0 ? board.cellSeq : '');
  }

  public async lockRestore(token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(KEYS.restoreLock, token, 'PX', ttlMs, 'NX')) === 'OK';
  }

  public async extendRestore(token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.canvasLock(KEYS.restoreLock, token, Math.max(1, ttlMs))) === 1;
  }

  public async unlockRestore(token: string): Promise<void> {
    await this.redis.canvasLock(KEYS.restoreLock, token, 0);
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
  private epoch = 0;

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
    return { kind: 'placed', seq, epoch: this.epoch, undo: { index, seq, user, address: limit?.address, prevColor, prevSeq } };
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

  public async boardEpoch(): Promise<number | undefined> {
    return this.seq === undefined ? undefined : this.epoch;
  }

  // One process holds board and sequence, so nothing it handed out can outlive its board.
  public async settle(placement: StoredPlacement): Promise<number> {
    return placement.seq;
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

  public async restoreRebuilt(board: RebuiltBoard): Promise<RestoreOutcome> {
    if (this.seq !== undefined && this.epoch >= board.epoch) {
      return 'newer_board';
    }
    await this.restore(board);
    this.epoch = board.epoch;
    for (let i = 0; i * 4 < board.cellSeq.length; i++) {
      const seq = board.cellSeq.readUInt32BE(i * 4);
      if (seq > 0) {
        this.cellSeq.set(i, seq);
      }
    }
    return 'restored';
  }

  public async lockRestore(): Promise<boolean> {
    return true;
  }

  public async extendRestore(): Promise<boolean> {
    return true;
  }

  public async unlockRestore(): Promise<void> {}

  public async close(): Promise<void> {}
}
