import * as http from 'http';
import { Duplex } from 'stream';
import { WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import { connectRedis } from './bus';
import { addressKey, clientAddress } from './client-address';
import { readConfig, RuntimeConfig } from './config';
import { ConnectionLeases } from './connection-leases';
import { HttpError, sendError } from './http';
import { createLogger, Logger } from './log';
import { Metrics } from './metrics';
import { buildFrame, FrameJoiner, Outbox } from './outbound';
import { TokenBucket } from './rate-limit';

/** Close codes the kit uses (RFC 6455 and the IANA registry). */
export const CloseCode = {
  /** The server is going away for a restart; reconnect (to another task). */
  SERVICE_RESTART: 1012,
  /** The client broke the rules (flooding). A client too slow to take its messages is terminated without a close frame. */
  POLICY_VIOLATION: 1008,
} as const;

export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

/**
 * At most `max` open WebSocket connections per client address: across every task of the system when it has
 * a Redis (`REALTIME_BUS_URL`), in this process otherwise.
 */
export interface ConnectionsPerAddress {
  readonly max: number;
  /**
   * How long a task's hold on a place outlives the task when it dies without closing its connections.
   * @default 60 s
   */
  readonly leaseMs?: number;
  /** Proxies in front that append to X-Forwarded-For (see `clientAddress`); 0 uses the socket's address. */
  readonly trustedProxies: number;
}

export interface MessageHandling<M, C> {
  /** Every text frame must parse as JSON and match this schema, or the client gets an error frame. */
  readonly schema: z.ZodType<M>;
  handle(client: RealtimeClient<C>, message: M): void | Promise<void>;
}

export interface RealtimeServerOptions<C, M> {
  /** Logger name and log field. */
  readonly name: string;
  readonly config?: RuntimeConfig;
  readonly log?: Logger;
  /** Path of the WebSocket endpoint. @default '/ws' */
  readonly wsPath?: string;
  /** Largest frame a client may send; larger ones close the socket with 1009. @default 16 KiB */
  readonly maxFrameBytes?: number;
  /**
   * Largest message the application takes: a frame above this (but within `maxFrameBytes`) is answered
   * with a `frame_too_large` error frame and the connection stays open. @default - `maxFrameBytes`
   */
  readonly maxMessageBytes?: number;
  /** Messages per second per connection. @default 20 a second, bursts of 40 */
  readonly rateLimit?: RateLimit;
  /**
   * Open connections one client address (an IPv6 address by its /64) may hold; an upgrade beyond is answered
   * 429 `too_many_connections`. Counted across all tasks in Redis when the environment names one
   * (`REALTIME_BUS_URL`), and always in this process too, so a Redis outage falls back to a limit per task.
   * Bounds what one address can hold of the servers' memory (each connection up to `maxBufferedBytes`
   * outbound). @default - no limit
   */
  readonly connectionsPerAddress?: ConnectionsPerAddress;
  /**
   * Most bytes one socket may have on their way out: what its TCP socket still buffers plus what is queued
   * for the next write, direct replies (`send`, `error`) and broadcasts alike. A frame that would take a
   * socket over it terminates the socket at once (no close handshake: a client that does not read would
   * only make it wait), so a client that asks for large answers and never reads them costs at most this
   * much memory. @default 4 MiB
   */
  readonly maxBufferedBytes?: number;
  /**
   * Shortest time between two writes to the sockets. Messages that arrive within it leave together in one
   * write (one system call) per socket, so CPU per delivery falls as the message rate rises; a message
   * after a quiet spell is written at the end of its event-loop turn. 33 ms (30 writes a second per
   * socket at most, 33 ms of added latency at worst) cost 17% less CPU per delivery than 16 ms at 50
   * messages/s to 2,000 clients (`npm run bench`); set 0 to write every turn. @default 33 ms
   */
  readonly minFlushIntervalMs?: number;
  /** Flush interval of the embedded-metric lines. @default 15 s */
  readonly metricsIntervalMs?: number;
  /** HTTP routes besides /healthz. Resolve true when handled; throw HttpError for a 4xx. */
  readonly http?: (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean | Promise<boolean>;
  /** Decides whether a WebSocket upgrade is allowed; throw HttpError (e.g. 401) to refuse. */
  readonly authenticate?: (req: http.IncomingMessage, url: URL) => C | Promise<C>;
  /** Validation and handling of client messages; without it, client messages are refused with an error frame. */
  readonly messages?: MessageHandling<M, C>;
  readonly onConnection?: (client: RealtimeClient<C>) => void;
  readonly onClose?: (client: RealtimeClient<C>) => void;
  /** Runs after every client was closed during a drain: flush pending durable writes here. */
  readonly onDrain?: () => Promise<void>;
  /** Runs last on shutdown: close stores and buses. */
  readonly onShutdown?: () => Promise<void>;
}

export interface BroadcastOptions<C> {
  /** Send a Buffer as a text frame (it holds UTF-8 JSON) rather than binary. @default - binary for Buffers */
  readonly binary?: boolean;
  /** Only clients for which this returns true. */
  readonly filter?: (client: RealtimeClient<C>) => boolean;
  /** Only these clients (e.g. the members of a room) rather than every client. @default - every client */
  readonly clients?: Iterable<RealtimeClient<C>>;
}

/** One WebSocket connection and what the application keeps about it. */
export class RealtimeClient<C> {
  private static nextId = 1;
  public readonly id = RealtimeClient.nextId++;
  public alive = true;
  public violations = 0;
  private readonly outbox: Outbox;

  constructor(
    public readonly socket: WebSocket,
    public readonly context: C,
    public readonly limiter: TokenBucket,
    private readonly schedule: (client: RealtimeClient<C>) => void,
    private readonly maxPendingBytes = Infinity,
    private readonly onTooSlow: (client: RealtimeClient<C>, pendingBytes: number) => void = () => undefined,
  ) {
    this.outbox = new Outbox(socket);
  }

  /** Bytes on their way to this client: buffered by its socket plus queued for the next write. */
  public get pendingBytes(): number {
    return this.outbox.pendingBytes;
  }

  /** Sends a JSON message to this client only (in order with broadcasts; written when the turn ends). */
  public send(message: unknown): void {
    this.queue(buildFrame(JSON.stringify(message), false));
  }

  /** Sends an error frame: `{ type: 'error', code, message, id? }`. */
  public error(code: string, message: string, extra: Record<string, unknown> = {}): void {
    this.send({ type: 'error', code, message, ...extra });
  }

  /**
   * Queues a frame built by `buildFrame`. False when the socket is not open, or when the frame would take
   * the client over its outbound limit: then the socket is terminated at once.
   */
  public queue(frame: Buffer): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) {
      return false;
    }
    const pending = this.outbox.pendingBytes + frame.length;
    if (pending > this.maxPendingBytes) {
      this.outbox.take();
      this.socket.terminate();
      this.onTooSlow(this, pending);
      return false;
    }
    if (this.outbox.isEmpty) {
      this.schedule(this);
    }
    this.outbox.push(frame);
    return true;
  }

  /** Writes what is queued now, joining frames with `joiner` when one is given. */
  public flush(joiner?: FrameJoiner): void {
    if (!joiner) {
      this.outbox.flush();
      return;
    }
    const frames = this.outbox.take();
    if (frames.length > 0) {
      this.outbox.write(joiner.join(frames));
    }
  }

  /** Closes after everything queued so far has been written. */
  public close(code: number, reason: string): void {
    this.outbox.flush();
    this.socket.close(code, reason);
  }
}

/**
 * HTTP + WebSocket server for an example system, following the environment contract: pings inside the
 * idle bound, a frame-size limit, per-connection rate limits, validation of every client message with
 * error frames for bad input, `ActiveConnections`/`MessagesIn`/`MessagesOut`/`Errors` embedded metrics,
 * and a graceful drain when ECS stops the task (noticed from the task metadata endpoint, or SIGTERM):
 * `/healthz` turns 503, new upgrades are refused, clients are closed with 1012 spread over the drain
 * window, `onDrain` flushes pending writes, and the process exits 0.
 */
export class RealtimeServer<C = undefined, M = unknown> {
  public readonly config: RuntimeConfig;
  public readonly log: Logger;
  public readonly metrics: Metrics;
  public readonly clients = new Set<RealtimeClient<C>>();
  public readonly httpServer: http.Server;
  private readonly wss: WebSocketServer;
  private readonly wsPath: string;
  private readonly rateLimit: RateLimit;
  private readonly maxBufferedBytes: number;
  private readonly maxMessageBytes: number;
  private readonly minFlushIntervalMs: number;
  private pinger?: NodeJS.Timeout;
  private metadataPoller?: NodeJS.Timeout;
  private drainPromise?: Promise<void>;
  private dirty: RealtimeClient<C>[] = [];
  /** Open connections per address key, when `connectionsPerAddress` is set. */
  private readonly openByAddress = new Map<string, number>();
  /** The count across tasks, when `connectionsPerAddress` is set and the system has a Redis. */
  private readonly leases?: ConnectionLeases;
  private leaseFailureLoggedAt = 0;
  private flushScheduled = false;
  private lastFlushAt = 0;

  constructor(private readonly options: RealtimeServerOptions<C, M>) {
    this.config = options.config ?? readConfig();
    this.log = options.log ?? createLogger(options.name);
    this.metrics = new Metrics(this.config.metricsNamespace, this.config.metricsService);
    this.metrics.gauge('ActiveConnections', () => this.clients.size);
    this.wsPath = options.wsPath ?? '/ws';
    this.rateLimit = options.rateLimit ?? { perSecond: 20, burst: 40 };
    this.maxBufferedBytes = options.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.maxMessageBytes = options.maxMessageBytes ?? options.maxFrameBytes ?? 16 * 1024;
    this.minFlushIntervalMs = options.minFlushIntervalMs ?? 33;
    // Compression would run once per socket; frames are built once and sent as they are.
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxFrameBytes ?? 16 * 1024,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.httpServer = http.createServer((req, res) => void this.handleHttp(req, res));
    this.httpServer.on('upgrade', (req, socket, head) => void this.handleUpgrade(req, socket, head));
    this.httpServer.on('clientError', (_err, socket) => socket.destroy());
    if (options.connectionsPerAddress && this.config.busUrl) {
      this.leases = new ConnectionLeases(connectRedis(this.config, this.log, `${options.name}-connections`, { commandTimeoutMs: 1000 }), {
        scope: options.name,
        leaseMs: options.connectionsPerAddress.leaseMs,
      });
    }
  }

  /** True once a drain started: health checks fail and upgrades are refused. */
  public get draining(): boolean {
    return this.drainPromise !== undefined;
  }

  /** Starts listening, pinging, emitting metrics and watching for a stop. Resolves with the port. */
  public async listen(): Promise<number> {
    await new Promise<void>(resolve => this.httpServer.listen(this.config.port, resolve));
    const port = (this.httpServer.address() as { port: number }).port;
    // Ping at a third of the idle bound (at most every 30 s), so no connection ever looks idle.
    const pingMs = Math.min(30_000, Math.max(1000, (this.config.keepaliveBoundSeconds * 1000) / 3));
    this.pinger = setInterval(() => this.pingAll(), pingMs);
    this.metrics.start(this.options.metricsIntervalMs);
    this.watchForStop();
    this.log.info({ port, pingMs, bus: this.config.busUrl ? 'redis' : 'memory' }, 'listening');
    return port;
  }

  /**
   * Sends the same bytes to every open client (or to `clients`, and of those to the ones `filter`
   * accepts): the caller serializes once per message, never per socket. Buffers go as binary frames
   * unless `binary: false`. Returns how many clients it went to.
   */
  public broadcast(data: Buffer | string, options: BroadcastOptions<C> = {}): number {
    const frame = buildFrame(data, options.binary ?? Buffer.isBuffer(data));
    let sent = 0;
    for (const client of options.clients ?? this.clients) {
      if (client.socket.readyState !== WebSocket.OPEN || (options.filter && !options.filter(client))) {
        continue;
      }
      if (client.queue(frame)) {
        sent++;
      }
    }
    this.metrics.count('MessagesOut', sent);
    return sent;
  }

  /** Writes every client's queued frames: runs once at the end of each event-loop turn that queued any. */
  private scheduleFlush(client: RealtimeClient<C>): void {
    this.dirty.push(client);
    if (this.flushScheduled) {
      return;
    }
    this.flushScheduled = true;
    // Write at the end of this turn, or, if the last write was under minFlushIntervalMs ago, when that
    // interval is up: a quiet server answers at once, a busy one shares each write among many messages.
    const wait = this.lastFlushAt + this.minFlushIntervalMs - performance.now();
    if (wait <= 0) {
      setImmediate(() => this.flushOutboxes());
    } else {
      setTimeout(() => this.flushOutboxes(), wait);
    }
  }

  private flushOutboxes(): void {
    this.flushScheduled = false;
    this.lastFlushAt = performance.now();
    const dirty = this.dirty;
    this.dirty = [];
    const joiner = new FrameJoiner();
    for (const client of dirty) {
      client.flush(joiner);
    }
  }

  /**
   * Moves clients elsewhere: health checks fail, upgrades are refused, clients are closed with 1012
   * spread over the drain window, then `onDrain` runs. Calling it again returns the same drain.
   */
  public drain(reason: string): Promise<void> {
    this.drainPromise ??= this.runDrain(reason);
    return this.drainPromise;
  }

  /** Drains, then closes the servers, then runs `onShutdown`. */
  public async shutdown(reason: string): Promise<void> {
    await this.drain(reason);
    clearInterval(this.pinger);
    clearInterval(this.metadataPoller);
    for (const client of this.clients) {
      client.socket.terminate();
    }
    // Stop taking connections, end idle keep-alive ones now and busy ones once their answer is sent.
    const closed = new Promise<void>(resolve => this.httpServer.close(() => resolve()));
    this.httpServer.closeIdleConnections();
    const force = setTimeout(() => this.httpServer.closeAllConnections(), 3000);
    await closed;
    clearTimeout(force);
    this.metrics.stop();
    await this.leases?.close();
    await this.options.onShutdown?.();
    this.log.info({ reason }, 'shut down');
  }

  /** Exits 0 after a graceful shutdown on SIGTERM or SIGINT; logs, never crashes, on a stray rejection. */
  public handleSignals(): void {
    const stop = (signal: string) => {
      this.shutdown(signal).then(() => process.exit(0), err => {
        this.log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('unhandledRejection', err => {
      this.metrics.count('Errors');
      this.log.error({ err }, 'unhandled rejection');
    });
  }

  private async runDrain(reason: string): Promise<void> {
    const clients = [...this.clients];
    const windowMs = this.config.drainSeconds * 1000 * 0.8;
    this.log.info({ reason, clients: clients.length, drainSeconds: this.config.drainSeconds }, 'draining');
    // Close clients evenly across the window (in 50 ms steps) so reconnects do not arrive as one thundering herd.
    const started = Date.now();
    for (let i = 0; i < clients.length;) {
      const due = started + (i * windowMs) / clients.length;
      if (due > Date.now()) {
        await new Promise(r => setTimeout(r, Math.max(50, due - Date.now())));
      }
      const now = Date.now();
      while (i < clients.length && started + (i * windowMs) / clients.length <= now) {
        clients[i++].close(CloseCode.SERVICE_RESTART, 'server restarting');
      }
    }
    // Give close handshakes a moment, then cut stragglers, so no handler runs after onDrain.
    await Promise.all(clients.map(client => new Promise<void>(resolve => {
      if (client.socket.readyState === WebSocket.CLOSED) {
        resolve();
        return;
      }
      const timer = setTimeout(() => { client.socket.terminate(); resolve(); }, 2000);
      client.socket.once('close', () => { clearTimeout(timer); resolve(); });
    })));
    await this.options.onDrain?.();
    this.log.info({ reason }, 'drained');
  }

  private watchForStop(): void {
    const uri = this.config.taskMetadataUri;
    if (!uri) {
      return;
    }
    // ECS waits out the deregistration delay before SIGTERM; the task's desired status changes at once.
    this.metadataPoller = setInterval(() => {
      fetch(`${uri}/task`, { signal: AbortSignal.timeout(1000) })
        .then(res => res.json() as Promise<{ DesiredStatus?: string }>)
        .then(task => {
          if (task.DesiredStatus === 'STOPPED' && !this.draining) {
            void this.drain('ecs task stopping');
          }
        })
        .catch(() => undefined);
    }, 2000);
    this.metadataPoller.unref();
  }

  private pingAll(): void {
    for (const client of this.clients) {
      if (!client.alive) {
        client.socket.terminate();
        continue;
      }
      client.alive = false;
      client.socket.ping();
    }
  }

  private async handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let url = new URL('http://localhost/');
    try {
      url = parseRequestUrl(req);
      if (url.pathname === '/healthz') {
        res.writeHead(this.draining ? 503 : 200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
        res.end(this.draining ? 'draining' : 'ok');
        return;
      }
      if (this.options.http && (await this.options.http(req, res, url))) {
        return;
      }
      throw new HttpError(404, 'not_found', `no route for ${req.method} ${url.pathname}`);
    } catch (err) {
      if (err instanceof HttpError) {
        if (!res.headersSent) {
          sendError(res, err);
        }
        return;
      }
      this.metrics.count('Errors');
      this.log.error({ err, path: url.pathname }, 'request failed');
      if (!res.headersSent) {
        sendError(res, new HttpError(500, 'internal', 'the request failed; try again'));
      } else {
        res.destroy();
      }
    }
  }

  private async handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    try {
      const url = parseRequestUrl(req);
      if (url.pathname !== this.wsPath) {
        throw new HttpError(404, 'not_found', `no WebSocket endpoint at ${url.pathname}`);
      }
      if (this.draining) {
        throw new HttpError(503, 'draining', 'this server is restarting; connect again', { 'retry-after': '1' });
      }
      const admission = await this.admit(req);
      // A client that goes away before the handshake completes (also while authenticating) gives its place
      // back; once accepted, the WebSocket's close does.
      let accepted = false;
      const giveBack = () => {
        if (!accepted) {
          admission?.release();
        }
      };
      socket.once('close', giveBack);
      if (socket.destroyed) {
        giveBack();
      }
      try {
        const context = this.options.authenticate ? await this.options.authenticate(req, url) : (undefined as C);
        this.wss.handleUpgrade(req, socket, head, ws => {
          accepted = true;
          this.accept(ws, context, admission);
        });
      } catch (err) {
        giveBack();
        throw err;
      }
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, 'internal', 'upgrade failed');
      if (!(err instanceof HttpError)) {
        this.log.error({ err }, 'upgrade failed');
      }
      const body = JSON.stringify({ error: e.code, message: e.message });
      const headers = Object.entries(e.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      socket.end(`HTTP/1.1 ${e.status} ${http.STATUS_CODES[e.status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${headers}connection: close\r\n\r\n${body}`);
    }
  }

  /**
   * A place for one more connection of the upgrade's address within `connectionsPerAddress` (undefined
   * without that limit); 429 beyond it. The place is counted in this process and, with a Redis, across tasks;
   * `release` gives both back.
   */
  private async admit(req: http.IncomingMessage): Promise<{ release(): void } | undefined> {
    const limit = this.options.connectionsPerAddress;
    if (!limit) {
      return undefined;
    }
    const key = addressKey(clientAddress(req, limit.trustedProxies));
    const refuse = () => {
      this.metrics.count('Errors');
      return new HttpError(429, 'too_many_connections', `at most ${limit.max} connections from one address`, { 'retry-after': '5' });
    };
    if ((this.openByAddress.get(key) ?? 0) >= limit.max) {
      throw refuse();
    }
    this.openByAddress.set(key, (this.openByAddress.get(key) ?? 0) + 1);
    const lease = this.leases && await this.leases.acquire(key, limit.max).catch(err => {
      // Redis is down or slow: the limit per process still holds.
      if (Date.now() - this.leaseFailureLoggedAt > 60_000) {
        this.leaseFailureLoggedAt = Date.now();
        this.log.warn({ err: (err as Error).message }, 'connections per address not counted across tasks; counting in this process only');
      }
      return { release: () => undefined };
    });
    if (this.leases && !lease) {
      this.forget(key);
      throw refuse();
    }
    let released = false;
    return {
      release: () => {
        if (!released) {
          released = true;
          this.forget(key);
          lease?.release();
        }
      },
    };
  }

  private forget(key: string): void {
    const left = (this.openByAddress.get(key) ?? 1) - 1;
    if (left > 0) {
      this.openByAddress.set(key, left);
    } else {
      this.openByAddress.delete(key);
    }
  }

  private accept(ws: WebSocket, context: C, admission?: { release(): void }): void {
    if (admission) {
      ws.once('close', () => admission.release());
    }
    const client = new RealtimeClient<C>(ws, context, new TokenBucket(this.rateLimit.perSecond, this.rateLimit.burst),
      c => this.scheduleFlush(c), this.maxBufferedBytes, (c, pendingBytes) => {
        this.metrics.count('Errors');
        this.log.warn({ client: c.id, pendingBytes, limit: this.maxBufferedBytes }, 'terminated a client too slow to take its messages');
      });
    this.clients.add(client);
    ws.on('pong', () => { client.alive = true; });
    ws.on('message', (data, isBinary) => void this.handleMessage(client, data as Buffer, isBinary));
    ws.on('error', err => {
      this.log.debug({ err: err.message, client: client.id }, 'socket error');
    });
    ws.on('close', () => {
      this.clients.delete(client);
      this.options.onClose?.(client);
    });
    if (this.draining) {
      ws.close(CloseCode.SERVICE_RESTART, 'server restarting');
      return;
    }
    this.options.onConnection?.(client);
  }

  private async handleMessage(client: RealtimeClient<C>, data: Buffer, isBinary: boolean): Promise<void> {
    this.metrics.count('MessagesIn');
    if (!client.limiter.take()) {
      this.metrics.count('Errors');
      client.violations++;
      if (client.violations > 3 * this.rateLimit.burst) {
        client.close(CloseCode.POLICY_VIOLATION, 'rate limit exceeded');
      } else if (client.violations === 1 || client.violations % 10 === 0) {
        client.error('rate_limited', `at most ${this.rateLimit.perSecond} messages a second`, { retryAfterMs: client.limiter.waitMs() });
      }
      return;
    }
    client.violations = 0;
    const handling = this.options.messages;
    if (!handling) {
      client.error('not_accepted', 'this endpoint only sends; it takes no messages');
      return;
    }
    if (isBinary) {
      client.error('bad_message', 'send JSON text frames');
      return;
    }
    if (data.length > this.maxMessageBytes) {
      client.error('frame_too_large', `the message is ${data.length} bytes; the limit is ${this.maxMessageBytes}`);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(data.toString('utf8'));
    } catch {
      client.error('bad_json', 'the message is not valid JSON');
      return;
    }
    const id = typeof parsed === 'object' && parsed !== null && 'id' in parsed ? (parsed as { id: unknown }).id : undefined;
    const result = handling.schema.safeParse(parsed);
    if (!result.success) {
      client.error('bad_message', result.error.issues.map(i => `${i.path.join('.') || 'message'}: ${i.message}`).join('; '), id === undefined ? {} : { id });
      return;
    }
    try {
      await handling.handle(client, result.data);
    } catch (err) {
      if (err instanceof HttpError) {
        client.error(err.code, err.message, id === undefined ? {} : { id });
        return;
      }
      this.metrics.count('Errors');
      this.log.error({ err, client: client.id }, 'message handler failed');
      client.error('internal', 'the message could not be handled; try again', id === undefined ? {} : { id });
    }
  }
}

/**
 * The request's URL, its path percent-decoded once to check it: 400 `bad_url` for a target that is not a
 * URL or whose path carries malformed percent-encoding (`%zz`, a lone `%`, invalid UTF-8), never a 500.
 */
export function parseRequestUrl(req: http.IncomingMessage): URL {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
    // Routes and static files decode the path; the query is read through URLSearchParams, which is lenient.
    decodeURIComponent(url.pathname);
  } catch {
    throw new HttpError(400, 'bad_url', 'the request URL is malformed (check its percent-encoding)');
  }
  return url;
}
