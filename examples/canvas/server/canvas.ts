import * as http from 'http';
import { promisify } from 'util';
import { gzip } from 'zlib';
import { z } from 'zod';
import { BoardSize, BoardSnapshot, BoardStore, MemoryBoardStore, PALETTE, PlacementUndo, RedisBoardStore } from './board';
import { MissedUpdates } from './missed-updates';
import { PlacementLog } from './placements';
import { encodeFrame, encodeRecord, RECORD_BYTES } from './protocol';
import { restoreBoard } from './restore';
import { SequenceLedger } from './sequence';
import { HISTORY_WINDOW_MS, sendHistoryPage } from './timelapse';
import { TokenSigner } from './tokens';
import { addressKey, Bus, clientAddress, connectRedis, createBus, HttpError, Logger, readConfig, readJson, RealtimeServer, RuntimeConfig, sendJson, serveStatic, TurnBatch } from '../../kit';

const gzipAsync = promisify(gzip);
const UPDATES_CHANNEL = 'canvas:updates';
const MAX_RECORDS_PER_FRAME = 65535;
/** How often a server checks that it relayed every kept update (see missed-updates.ts). */
const MISSED_UPDATE_CHECK_MS = 1000;

/** Canvas settings, from the environment (see examples/canvas/README.md). */
export interface CanvasSettings extends BoardSize {
  readonly cooldownSeconds: number;
  readonly tickMs: number;
  readonly boardCacheMs: number;
  readonly tableName: string;
  readonly dynamoEndpoint?: string;
  readonly tokenSecret: string;
  /** Proxies in front of the server that append to X-Forwarded-For (ALB = 1, CloudFront + ALB = 2). */
  readonly trustedProxies: number;
  /** Sessions one address (an IPv6 address by its /64) may start a minute, counted in Redis across tasks. */
  readonly sessionsPerMinute: number;
  /** Placements one address (an IPv6 address by its /64) may make per cooldown period, counted in Redis across tasks. */
  readonly placementsPerAddress: number;
  /**
   * Open WebSocket connections one address (an IPv6 address by its /64) may hold, counted in Redis across
   * tasks: each watcher costs a socket and up to the kit's outbound limit of memory.
   */
  readonly connectionsPerAddress: number;
  /** Update records kept in Redis for `GET /api/updates?after=`. */
  readonly recentUpdates: number;
  /** Longest an update record is kept for `GET /api/updates?after=`. */
  readonly recentUpdatesSeconds: number;
  /** Serve web/ from here (local runs; in AWS the front door serves it). */
  readonly webDir?: string;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): CanvasSettings {
  const num = (name: string, fallback: number, min: number, max: number) => {
    const value = env[name] === undefined || env[name] === '' ? fallback : Number(env[name]);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`${name}=${env[name]} is not a whole number from ${min} to ${max}`);
    }
    return value;
  };
  const tableName = env.CANVAS_TABLE;
  const tokenSecret = env.CANVAS_TOKEN_SECRET;
  if (!tableName || !tokenSecret) {
    throw new Error('CANVAS_TABLE and CANVAS_TOKEN_SECRET must be set (npm run dev canvas sets local ones)');
  }
  return {
    width: num('CANVAS_WIDTH', 1000, 1, 4096),
    height: num('CANVAS_HEIGHT', 1000, 1, 4096),
    cooldownSeconds: num('CANVAS_COOLDOWN_SECONDS', 300, 0, 86_400),
    tickMs: num('CANVAS_TICK_MS', 100, 10, 1000),
    boardCacheMs: num('CANVAS_BOARD_CACHE_MS', 1000, 0, 10_000),
    tableName,
    dynamoEndpoint: env.DYNAMODB_ENDPOINT || undefined,
    tokenSecret,
    trustedProxies: num('CANVAS_TRUSTED_PROXIES', 1, 0, 5),
    sessionsPerMinute: num('CANVAS_SESSIONS_PER_MINUTE', 30, 1, 100_000),
    placementsPerAddress: num('CANVAS_PLACEMENTS_PER_ADDRESS', 4, 1, 100_000),
    connectionsPerAddress: num('CANVAS_CONNECTIONS_PER_ADDRESS', 100, 1, 100_000),
    recentUpdates: num('CANVAS_RECENT_UPDATES', 10_000, 100, 65_535),
    recentUpdatesSeconds: num('CANVAS_RECENT_UPDATES_SECONDS', 300, 1, 86_400),
    webDir: env.CANVAS_WEB_DIR || undefined,
  };
}

const PixelBody = (size: BoardSize) => z.object({
  x: z.number().int().min(0).max(size.width - 1),
  y: z.number().int().min(0).max(size.height - 1),
  color: z.number().int().min(0).max(PALETTE.length - 1),
}).strict();

/**
 * The canvas system's server: `GET /api/board` (compressed, cacheable, with its sequence number),
 * `PUT /api/pixel` (cooldown per signed identity, durable in DynamoDB before the answer), history per
 * pixel, and binary update frames on /ws every tick.
 */
export class CanvasServer {
  public readonly server: RealtimeServer<undefined, never>;
  public readonly store: BoardStore;
  public readonly log: Logger;
  public readonly placements: PlacementLog;
  private readonly ledger: SequenceLedger;
  private readonly bus: Bus;
  private readonly signer: TokenSigner;
  private readonly pending: Buffer[] = [];
  private readonly outgoing = new TurnBatch<Buffer, void>(batch => this.publishBatch(batch), 1000);
  /** Stored placements not yet settled, and updates not yet kept and published (see `finish`). */
  private readonly finishing = new Set<Promise<unknown>>();
  private ticker?: NodeJS.Timeout;
  private readonly missed: MissedUpdates;
  private boardCache?: { at: number; seq: number; gzip: Buffer; raw: Buffer };
  private boardLoading?: Promise<NonNullable<CanvasServer['boardCache']>>;
  private restoring?: Promise<void>;
  private boardReady = false;
  private readonly pixelBody: ReturnType<typeof PixelBody>;

  constructor(private readonly settings: CanvasSettings, config: RuntimeConfig = readConfig()) {
    this.server = new RealtimeServer<undefined, never>({
      name: 'canvas',
      config,
      maxFrameBytes: 1024,
      connectionsPerAddress: { max: settings.connectionsPerAddress, trustedProxies: settings.trustedProxies },
      http: (req, res, url) => this.route(req, res, url),
      onDrain: () => this.placements.flush(),
      onShutdown: () => this.close(),
    });
    this.log = this.server.log;
    this.bus = createBus(config, this.log);
    this.ledger = new SequenceLedger({ tableName: settings.tableName, endpoint: settings.dynamoEndpoint });
    this.store = config.busUrl
      ? new RedisBoardStore(connectRedis(config, this.log, 'canvas-store', { commandTimeoutMs: 2000 }), settings, this.ledger)
      : new MemoryBoardStore(settings);
    this.placements = new PlacementLog({ tableName: settings.tableName, endpoint: settings.dynamoEndpoint });
    this.signer = new TokenSigner(settings.tokenSecret);
    // Built once: zod compiles a schema when it is created.
    this.pixelBody = PixelBody(settings);
    this.missed = new MissedUpdates(this.store, MISSED_UPDATE_CHECK_MS, records => records.forEach(r => this.relay(r)), this.log);
  }

  public async start(): Promise<number> {
    await this.bus.subscribe(UPDATES_CHANNEL, records => {
      for (let offset = 0; offset + RECORD_BYTES <= records.length; offset += RECORD_BYTES) {
        this.relay(records.subarray(offset, offset + RECORD_BYTES));
      }
    });
    this.ticker = setInterval(() => this.tick(), this.settings.tickMs);
    await this.missed.start();
    await this.ensureBoard().catch(err => this.log.warn({ err: err.message }, 'board not ready yet; the first placement will restore it'));
    return this.server.listen();
  }

  /** Queues one update record for the next tick's frame. */
  private relay(record: Buffer): void {
    this.missed.seen(record.readUInt32LE(0));
    this.pending.push(record);
  }

  /** Sends everything placed since the last tick as one binary frame, built once for all clients. */
  public tick(): void {
    while (this.pending.length > 0) {
      const frame = encodeFrame(this.pending.splice(0, MAX_RECORDS_PER_FRAME));
      this.server.broadcast(frame);
    }
  }

  /**
   * Publishes update records on the bus, all records of one event-loop turn in one message: a stored
   * DynamoDB batch releases up to 25 placements at once, and they travel together.
   */
  private publishUpdate(record: Buffer): void {
    void this.finish(this.outgoing.add(record));
  }

  /** Tracks work that shutdown waits for: a stored placement's update is settled, kept and published before Redis closes. */
  private finish<T>(work: Promise<T>): Promise<T> {
    this.finishing.add(work);
    void work.finally(() => this.finishing.delete(work)).catch(() => undefined);
    return work;
  }

  private async publishBatch(batch: Buffer[]): Promise<void[]> {
    const records = Buffer.concat(batch);
    // Kept before published: a client that opened /ws and then asks /api/updates gets every record
    // published before it connected from the store, and every later one from the stream.
    await this.store.recordUpdates(batch, this.settings.recentUpdates, this.settings.recentUpdatesSeconds * 1000)
      .catch(err => this.log.warn({ err: err.message }, 'updates not kept for /api/updates'));
    await this.bus.publish(UPDATES_CHANNEL, records)
      .catch(err => this.log.warn({ err: err.message, records: records.length / RECORD_BYTES }, 'updates not published; clients will see them in the next board'));
    return [];
  }

  private async close(): Promise<void> {
    clearInterval(this.ticker);
    this.missed.stop();
    await this.placements.flush();
    while (this.finishing.size > 0) {
      await Promise.allSettled([...this.finishing]);
    }
    this.tick();
    await this.bus.close();
    await this.store.close();
    this.placements.close();
    this.ledger.close();
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<boolean> {
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /api/config':
        sendJson(res, 200, {
          width: this.settings.width,
          height: this.settings.height,
          palette: PALETTE,
          cooldownSeconds: this.settings.cooldownSeconds,
          tickMs: this.settings.tickMs,
        }, { 'cache-control': 'public, max-age=60' });
        return true;
      case 'GET /api/board':
        await this.sendBoard(req, res);
        return true;
      case 'POST /api/session':
        await this.startSession(req, res);
        return true;
      case 'PUT /api/pixel':
        await this.placePixel(req, res);
        return true;
      case 'GET /api/pixel':
        await this.sendHistory(res, url);
        return true;
      case 'GET /api/history':
        await sendHistoryPage(res, url, this.placements, () => this.storeCall(() => this.store.countSession(
          `history:${addressKey(clientAddress(req, this.settings.trustedProxies))}`, HISTORY_WINDOW_MS)));
        return true;
      case 'GET /api/updates':
        await this.sendUpdates(res, url);
        return true;
      case 'GET /api/cooldown':
        await this.sendCooldown(req, res);
        return true;
    }
    if (url.pathname.startsWith('/api/')) {
      throw new HttpError(404, 'not_found', `no route for ${route}`);
    }
    if (req.method === 'GET' && this.settings.webDir) {
      return serveStatic(this.settings.webDir, url.pathname, res);
    }
    return false;
  }

  /**
   * The whole board, gzip-compressed, with its sequence number in `ETag` and `X-Board-Seq`. It is cached
   * here and may be cached by a CDN for a second (stale-while-revalidate for two more): a client first
   * opens /ws, then fetches the board and applies the buffered updates newer than its sequence, so
   * nothing is lost between the snapshot and the stream.
   */
  private async sendBoard(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const board = await this.currentBoard();
    const etag = `"${board.seq}"`;
    const headers = {
      'cache-control': `public, max-age=${Math.max(1, Math.round(this.settings.boardCacheMs / 1000))}, stale-while-revalidate=2`,
      'etag': etag,
      'x-board-seq': String(board.seq),
      'x-board-width': String(this.settings.width),
      'x-board-height': String(this.settings.height),
      'vary': 'accept-encoding',
    };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers).end();
      return;
    }
    const gzipped = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzipped ? board.gzip : board.raw;
    res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream', 'content-length': body.length, ...(gzipped ? { 'content-encoding': 'gzip' } : {}) });
    res.end(body);
  }

  private async currentBoard(): Promise<NonNullable<CanvasServer['boardCache']>> {
    if (this.boardCache && Date.now() - this.boardCache.at < this.settings.boardCacheMs) {
      return this.boardCache;
    }
    // One read of the store per cache period, however many clients ask at once.
    this.boardLoading ??= (async () => {
      try {
        await this.ensureBoard();
        let snapshot = await this.storeCall(() => this.store.snapshot());
        if (!snapshot) {
          await this.ensureBoard(true);
          snapshot = await this.storeCall(() => this.store.snapshot());
        }
        if (!snapshot) {
          throw new HttpError(503, 'restoring', 'the board is being restored; try again in a moment', { 'retry-after': '1' });
        }
        this.boardCache = { at: Date.now(), seq: snapshot.seq, raw: snapshot.bytes, gzip: await gzipAsync(snapshot.bytes) };
        return this.boardCache;
      } finally {
        this.boardLoading = undefined;
      }
    })();
    return this.boardLoading;
  }

  private async startSession(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const address = addressKey(clientAddress(req, this.settings.trustedProxies));
    const { count, retryAfterMs } = await this.storeCall(() => this.store.countSession(address, 60_000));
    if (count > this.settings.sessionsPerMinute) {
      const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
      throw new HttpError(429, 'too_many_sessions', `too many new sessions from this address; try again in ${seconds} seconds`, { 'retry-after': String(seconds) });
    }
    sendJson(res, 201, this.signer.issue(), { 'cache-control': 'no-store' });
  }

  private async placePixel(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const user = this.authenticate(req);
    const parsed = this.pixelBody.safeParse(await readJson(req, 256));
    if (!parsed.success) {
      throw new HttpError(400, 'bad_pixel', parsed.error.issues.map(i => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    }
    const { x, y, color } = parsed.data;
    const pixel = y * this.settings.width + x;
    const cooldownMs = this.settings.cooldownSeconds * 1000;
    const limit = { address: addressKey(clientAddress(req, this.settings.trustedProxies)), max: this.settings.placementsPerAddress };
    await this.ensureBoard().catch(() => undefined);
    let result = await this.storeCall(() => this.store.place(pixel, color, user, cooldownMs, limit));
    if (result.kind === 'missing' || result.kind === 'stale') {
      const stale = result.kind === 'stale' ? result.epoch : undefined;
      await this.storeCall(() => this.ensureBoard(true, stale));
      result = await this.storeCall(() => this.store.place(pixel, color, user, cooldownMs, limit));
    }
    if (result.kind === 'missing' || result.kind === 'stale') {
      throw new HttpError(503, 'restoring', 'the board is being restored; try again in a moment', { 'retry-after': '1' });
    }
    if (result.kind === 'cooldown') {
      const seconds = Math.ceil(result.retryAfterMs / 1000);
      throw new HttpError(429, 'cooldown', `wait ${seconds} more seconds before placing another pixel`, { 'retry-after': String(seconds) });
    }
    if (result.kind === 'address_limit') {
      const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
      throw new HttpError(429, 'address_limit',
        `${this.settings.placementsPerAddress} pixels were placed from your network in this cooldown period; wait ${seconds} more seconds`,
        { 'retry-after': String(seconds) });
    }
    const time = Date.now();
    try {
      await this.placements.append({ pixel, seq: result.seq, x, y, color, user, time });
    } catch (err) {
      // Not durable, so not accepted: take the cell back (unless a newer placement took it) and let the
      // user try again at once. The update was not published; the cell's earlier colour is, under a new
      // sequence number, for clients whose board already showed the failed one.
      this.log.error({ err, seq: result.seq }, 'placement not stored; taking it back');
      await this.takeBack(result.undo);
      throw new HttpError(503, 'not_stored', 'the placement could not be stored; try again', { 'retry-after': '1' });
    }
    this.server.metrics.count('Placements');
    // Stored, so accepted: the answer waits for nothing more. The update waits for the settle.
    sendJson(res, 200, { seq: result.seq, nextPlacementAt: time + cooldownMs }, { 'cache-control': 'no-store' });
    await this.finish(this.settleAndPublish(pixel, x, y, color, result.seq, result.epoch));
  }

  /** A board restored while the write was in flight gets the pixel now (board.ts `settle`); then it is kept and published. */
  private async settleAndPublish(index: number, x: number, y: number, color: number, seq: number, epoch: number): Promise<void> {
    const published = await this.store.settle({ index, seq, color, epoch }).catch(err => {
      this.log.warn({ err: err.message, seq }, 'stored placement not settled on the board; the next rebuild shows it');
      return seq;
    });
    await this.outgoing.add(encodeRecord({ seq: published, x, y, color }));
  }

  /** Undoes a placement in the live store, retrying briefly: a 503 must not leave its pixel behind. */
  private async takeBack(placement: PlacementUndo): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const undone = await this.store.undo(placement);
        if (this.boardCache && this.boardCache.seq >= placement.seq) {
          this.boardCache = undefined;
        }
        if (undone.kind === 'restored') {
          const { width } = this.settings;
          const x = placement.index % width;
          const y = Math.floor(placement.index / width);
          this.publishUpdate(encodeRecord({ seq: undone.seq, x, y, color: undone.color }));
        }
        return;
      } catch (err) {
        if (attempt >= 5) {
          this.log.error({ err, seq: placement.seq }, 'placement not taken back; the live board shows it until it is rebuilt');
          return;
        }
        await new Promise(r => setTimeout(r, 100 * attempt));
      }
    }
  }

  /**
   * The kept update records with a sequence above `after` (a board's `X-Board-Seq`, or the last sequence a
   * client saw before a gap), as one binary frame like those of /ws; 410 when some were dropped already
   * (the client refetches the board).
   */
  private async sendUpdates(res: http.ServerResponse, url: URL): Promise<void> {
    const raw = url.searchParams.get('after');
    const after = raw === null || raw.trim() === '' ? NaN : Number(raw);
    if (!Number.isInteger(after) || after < 0 || after > 0xffffffff) {
      throw new HttpError(400, 'bad_after', 'after must be a whole number from 0 to 4294967295 (a board\'s X-Board-Seq)');
    }
    const records = await this.storeCall(() => this.store.updatesAfter(after));
    if (!records) {
      throw new HttpError(410, 'too_far_behind', 'the updates after this sequence are no longer kept; refetch the board');
    }
    const body = encodeFrame(records);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, 'cache-control': 'no-store' });
    res.end(body);
  }

  private async sendHistory(res: http.ServerResponse, url: URL): Promise<void> {
    // Number('') and Number(null) are 0: a missing or empty x or y must not read as pixel 0.
    const param = (name: string) => {
      const value = url.searchParams.get(name);
      return value === null || value.trim() === '' ? NaN : Number(value);
    };
    const x = param('x');
    const y = param('y');
    const limit = url.searchParams.has('limit') ? param('limit') : 20;
    if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x >= this.settings.width || y >= this.settings.height) {
      throw new HttpError(400, 'bad_pixel', `x and y must be whole numbers inside the ${this.settings.width}x${this.settings.height} board`);
    }
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw new HttpError(400, 'bad_limit', 'limit must be a whole number from 1 to 100');
    }
    const history = await this.placements.history(y * this.settings.width + x, limit);
    sendJson(res, 200, { x, y, placements: history.map(p => ({ seq: p.seq, color: p.color, user: p.user, time: p.time })) }, { 'cache-control': 'no-store' });
  }

  /** When the token's user may place next, so a reloaded page shows the cooldown it is in. */
  private async sendCooldown(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const user = this.authenticate(req);
    const remaining = await this.storeCall(() => this.store.cooldownRemainingMs(user));
    const now = Date.now();
    sendJson(res, 200, { nextPlacementAt: remaining > 0 ? now + remaining : now }, { 'cache-control': 'no-store' });
  }

  private authenticate(req: http.IncomingMessage): string {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Bearer ')) {
      throw new HttpError(401, 'unauthorized', 'send Authorization: Bearer <token> from POST /api/session', { 'www-authenticate': 'Bearer' });
    }
    const user = this.signer.verify(header.slice('Bearer '.length));
    if (!user) {
      throw new HttpError(401, 'bad_token', 'the token is invalid or expired; start a new session', { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
    return user;
  }

  private async storeCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'board store unavailable');
      throw new HttpError(503, 'store_unavailable', 'the board is briefly unavailable; try again', { 'retry-after': '1' });
    }
  }

  /**
   * Makes sure the live store holds a board it can trust. An empty store (first start, a Redis that
   * restarted without its data), one on a Redis that restarted or failed over since its restore (it may
   * have lost the last writes), or one whose epoch a restore fenced (`staleEpoch`) is rebuilt from the
   * DynamoDB history by one process while the others wait (restore.ts).
   */
  private async ensureBoard(recheck = false, staleEpoch?: number): Promise<void> {
    if (this.boardReady && !recheck) {
      return;
    }
    this.boardReady = false;
    this.restoring ??= (async () => {
      try {
        const result = await restoreBoard({
          store: this.store, ledger: this.ledger, placements: this.placements, size: this.settings, replaceEpoch: staleEpoch,
        });
        if (result.kind === 'restored') {
          this.log.info({ seq: result.seq, epoch: result.epoch, placements: result.placements }, 'board restored from the placement history');
        } else if (result.kind === 'refused') {
          this.log.warn({ reason: result.reason }, 'rebuilt board not restored; another process restored a newer one');
        }
        if (result.kind === 'busy') {
          await new Promise(r => setTimeout(r, 500));
        } else {
          this.boardReady = true;
        }
      } finally {
        this.restoring = undefined;
      }
    })();
    return this.restoring;
  }
}

export type { BoardSnapshot };
