import { randomBytes } from 'crypto';
import * as http from 'http';
import { AddressInfo } from 'net';
import { GatewayCloseCodes, GatewayOpcodes } from 'discord-api-types/v10';
import { WebSocket, WebSocketServer } from 'ws';

/**
 * LOCAL STAND-IN for a Discord-style gateway and the few REST routes the bot uses, for tests and
 * `npm run dev bot` only. It speaks the gateway flow of API v10 (JSON, no compression): HELLO, IDENTIFY
 * with `shard: [id, count]`, READY with `session_id` and `resume_gateway_url`, HEARTBEAT and HEARTBEAT_ACK,
 * GUILD_CREATE and MESSAGE_CREATE dispatched to the shard that holds the guild (`(guild_id >> 22) % count`),
 * RECONNECT, INVALID_SESSION and RESUME with the missed dispatches replayed by sequence.
 *
 * It enforces what the construct's guarantees exist for, the way the real gateway does: a second live
 * session for one shard is refused (close 4005), and so is an identify sooner than 5 s after the previous
 * one of its bucket (`shard_id % max_concurrency`, close 4008). Everything it sees is kept in `events` and
 * `posted` for tests to assert on.
 */

export interface LocalGatewayOptions {
  /** The bot token the gateway and REST accept. */
  readonly token: string;
  /** Guilds the bot is in. @default 16 */
  readonly guildCount?: number;
  /** `session_start_limit.max_concurrency` of GET /gateway/bot. @default 1, as for most bots */
  readonly maxConcurrency?: number;
  /** Recommended `shards` of GET /gateway/bot. @default 1 */
  readonly recommendedShards?: number;
  /** HELLO's `heartbeat_interval`. @default 41250, as Discord sends */
  readonly heartbeatIntervalMs?: number;
  /** How long a disconnected session stays resumable. @default 120000 */
  readonly resumeWindowMs?: number;
  /** Channels whose POST /messages answers 500 (an outage of that route). */
  readonly failingChannels?: string[];
  /** Dispatch MESSAGE_CREATE for the bot's own REST messages, as Discord does. @default true */
  readonly echoBotMessages?: boolean;
  readonly port?: number;
}

/** Discord's identify window per bucket. */
export const IDENTIFY_INTERVAL_MS = 5000;
/** Gateway events a connection may send per minute before it is closed with 4008. */
export const SEND_LIMIT_PER_MINUTE = 120;
/** Largest gateway payload a client may send. */
export const MAX_CLIENT_PAYLOAD_BYTES = 4096;
const BUFFERED_DISPATCHES = 1000;
const MAX_EVENTS = 20_000;
const DISCORD_EPOCH = 1420070400000n;

export interface GatewayEvent {
  readonly at: number;
  readonly kind: 'identify' | 'resume' | 'refused' | 'closed' | 'dispatch' | 'invalid-session' | 'undelivered' | 'dropped';
  readonly shard?: number;
  readonly sessionId?: string;
  readonly code?: number;
  readonly reason?: string;
  readonly t?: string;
  readonly s?: number;
  readonly guildId?: string;
  readonly replayed?: number;
}

export interface PostedMessage {
  readonly at: number;
  readonly channelId: string;
  readonly guildId?: string;
  readonly content: string;
}

interface MessageAuthor {
  readonly id: string;
  readonly username: string;
  readonly bot: boolean;
}

interface Dispatch {
  readonly s: number;
  readonly t: string;
  readonly d: unknown;
}

interface Session {
  readonly id: string;
  readonly shardId: number;
  readonly shardCount: number;
  seq: number;
  readonly buffer: Dispatch[];
  conn?: Connection;
  detachedAt?: number;
}

interface Connection {
  readonly ws: WebSocket;
  session?: Session;
  sent: number;
  windowStart: number;
}

export class LocalGateway {

  public static async start(options: LocalGatewayOptions): Promise<LocalGateway> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', resolve);
    });
    return new LocalGateway(server, (server.address() as AddressInfo).port, options);
  }


  /** The shard a guild belongs to among `shardCount` shards. */
  public static shardOf(guildId: string, shardCount: number): number {
    return Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
  }

  public readonly events: GatewayEvent[] = [];
  public readonly posted: PostedMessage[] = [];
  /** Guild ids (snowflakes, as strings), each with one text channel `channelOf(id)`. */
  public readonly guilds: string[];
  public readonly botUserId: string;
  private readonly sessions = new Map<string, Session>();
  private readonly lastIdentify = new Map<number, number>();
  private readonly wss: WebSocketServer;
  private readonly options: Required<Omit<LocalGatewayOptions, 'port' | 'failingChannels'>> & { failingChannels: Set<string> };
  private messageCounter = 0n;

  private constructor(private readonly server: http.Server, public readonly port: number, options: LocalGatewayOptions) {
    this.options = {
      guildCount: 16,
      maxConcurrency: 1,
      recommendedShards: 1,
      heartbeatIntervalMs: 41_250,
      resumeWindowMs: 120_000,
      echoBotMessages: true,
      ...options,
      failingChannels: new Set(options.failingChannels ?? []),
    };
    // Snowflakes a few years after the Discord epoch, spread so that consecutive guilds land on different shards.
    this.guilds = Array.from({ length: this.options.guildCount }, (_, i) => (((1_000_000_000_000n + BigInt(i)) << 22n) + 7n).toString());
    this.botUserId = ((900_000_000_000n << 22n) + 1n).toString();
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 });
    server.on('upgrade', (req, socket, head) => {
      const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
      this.wss.handleUpgrade(req, socket, head, ws => this.accept(ws, query));
    });
    server.on('request', (req, res) => this.rest(req, res));
  }

  /** REST base for `@discordjs/rest` (`BOT_API_URL`). */
  public get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  public get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  public channelOf(guildId: string): string {
    return (BigInt(guildId) + 1n).toString();
  }

  public guildOfChannel(channelId: string): string | undefined {
    const guildId = (BigInt(channelId) - 1n).toString();
    return this.guilds.includes(guildId) ? guildId : undefined;
  }

  /** Shards that have a live (connected, identified or resumed) session now. */
  public liveShards(): number[] {
    return [...this.sessions.values()].filter(s => s.conn).map(s => s.shardId).sort((a, b) => a - b);
  }

  /**
   * A user writes `content` in a guild's channel: MESSAGE_CREATE goes to the session of the shard that
   * holds the guild (buffered for a resume if that session is disconnected). Returns that shard, or
   * undefined when no session holds the guild.
   */
  public userMessage(guildId: string, content: string, author: { id?: string; username?: string; bot?: boolean } = {}): number | undefined {
    const session = this.sessionFor(guildId);
    if (!session) {
      this.record({ kind: 'undelivered', guildId, t: 'MESSAGE_CREATE' });
      return undefined;
    }
    this.dispatch(session, 'MESSAGE_CREATE', this.messageObject(this.channelOf(guildId), guildId, content, {
      id: author.id ?? '80351110224678912', username: author.username ?? 'local-user', bot: author.bot ?? false,
    }));
    return session.shardId;
  }

  /** Cuts a shard's connection without a close frame, as a network failure would. */
  public dropConnection(shardId: number): void {
    const session = this.liveSession(shardId);
    this.record({ kind: 'dropped', shard: shardId, sessionId: session?.id });
    session?.conn?.ws.terminate();
  }

  /** Asks a shard to reconnect and resume (opcode 7). */
  public requestReconnect(shardId: number): void {
    this.liveSession(shardId)?.conn?.ws.send(JSON.stringify({ op: GatewayOpcodes.Reconnect, d: null }));
  }

  /** Tells a shard its session is invalid (opcode 9); not resumable: the session is gone. */
  public invalidateSession(shardId: number, resumable: boolean): void {
    const session = this.liveSession(shardId);
    if (!session) {
      return;
    }
    this.record({ kind: 'invalid-session', shard: shardId, sessionId: session.id, reason: resumable ? 'resumable' : 'not resumable' });
    const conn = session.conn!;
    conn.ws.send(JSON.stringify({ op: GatewayOpcodes.InvalidSession, d: resumable }));
    // The connection is no longer authenticated: it may RESUME (when resumable) or IDENTIFY anew.
    conn.session = undefined;
    session.conn = undefined;
    if (resumable) {
      session.detachedAt = Date.now();
    } else {
      this.sessions.delete(session.id);
    }
  }

  public eventsOf(kind: GatewayEvent['kind'], shard?: number): GatewayEvent[] {
    return this.events.filter(e => e.kind === kind && (shard === undefined || e.shard === shard));
  }

  public async stop(): Promise<void> {
    for (const client of this.wss.clients) {
      client.terminate();
    }
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>(resolve => this.server.close(() => resolve()));
  }

  // ---- gateway ----

  private accept(ws: WebSocket, query: URLSearchParams): void {
    const conn: Connection = { ws, sent: 0, windowStart: Date.now() };
    if (query.get('v') !== '10') {
      ws.close(GatewayCloseCodes.InvalidAPIVersion, 'Invalid API version.');
      return;
    }
    if ((query.get('encoding') ?? 'json') !== 'json') {
      ws.close(GatewayCloseCodes.DecodeError, 'Error while decoding payload.');
      return;
    }
    ws.on('message', (data, isBinary) => this.onPayload(conn, data as Buffer, isBinary));
    ws.on('close', code => this.onClose(conn, code));
    ws.on('error', () => ws.terminate());
    ws.send(JSON.stringify({ op: GatewayOpcodes.Hello, d: { heartbeat_interval: this.options.heartbeatIntervalMs }, s: null, t: null }));
  }

  private onPayload(conn: Connection, data: Buffer, isBinary: boolean): void {
    const now = Date.now();
    if (now - conn.windowStart >= 60_000) {
      conn.windowStart = now;
      conn.sent = 0;
    }
    if (++conn.sent > SEND_LIMIT_PER_MINUTE) {
      return this.refuse(conn, GatewayCloseCodes.RateLimited, 'You are being rate limited.');
    }
    if (isBinary || data.length > MAX_CLIENT_PAYLOAD_BYTES) {
      return this.refuse(conn, GatewayCloseCodes.DecodeError, 'Error while decoding payload.');
    }
    let payload: { op?: unknown; d?: any };
    try {
      payload = JSON.parse(data.toString('utf8'));
    } catch {
      return this.refuse(conn, GatewayCloseCodes.DecodeError, 'Error while decoding payload.');
    }
    switch (payload.op) {
      case GatewayOpcodes.Heartbeat:
        conn.ws.send(JSON.stringify({ op: GatewayOpcodes.HeartbeatAck, d: null }));
        return;
      case GatewayOpcodes.Identify:
        return this.identify(conn, payload.d);
      case GatewayOpcodes.Resume:
        return this.resume(conn, payload.d);
      case GatewayOpcodes.PresenceUpdate:
      case GatewayOpcodes.RequestGuildMembers:
      case GatewayOpcodes.VoiceStateUpdate:
        if (!conn.session) {
          return this.refuse(conn, GatewayCloseCodes.NotAuthenticated, 'Not authenticated.');
        }
        return;
      default:
        return this.refuse(conn, GatewayCloseCodes.UnknownOpcode, 'Unknown opcode.');
    }
  }

  private identify(conn: Connection, d: any): void {
    if (conn.session) {
      return this.refuse(conn, GatewayCloseCodes.AlreadyAuthenticated, 'Already authenticated.');
    }
    if (!d || typeof d !== 'object' || d.token !== this.options.token) {
      return this.refuse(conn, GatewayCloseCodes.AuthenticationFailed, 'Authentication failed.');
    }
    const [shardId, shardCount] = Array.isArray(d.shard) ? d.shard : [0, 1];
    if (!Number.isInteger(shardId) || !Number.isInteger(shardCount) || shardCount < 1 || shardId < 0 || shardId >= shardCount) {
      return this.refuse(conn, GatewayCloseCodes.InvalidShard, 'Invalid shard.');
    }
    if (this.liveSession(shardId, shardCount)) {
      return this.refuse(conn, GatewayCloseCodes.AlreadyAuthenticated, 'Already authenticated.', shardId, 'duplicate-shard');
    }
    const bucket = shardId % this.options.maxConcurrency;
    const now = Date.now();
    const last = this.lastIdentify.get(bucket);
    if (last !== undefined && now - last < IDENTIFY_INTERVAL_MS) {
      return this.refuse(conn, GatewayCloseCodes.RateLimited, 'You are being rate limited.', shardId, 'identify-too-early');
    }
    this.lastIdentify.set(bucket, now);
    // A new session replaces a disconnected one of the same shard.
    for (const old of this.sessions.values()) {
      if (old.shardId === shardId && old.shardCount === shardCount) {
        this.sessions.delete(old.id);
      }
    }
    const session: Session = { id: randomBytes(16).toString('hex'), shardId, shardCount, seq: 0, buffer: [], conn };
    this.sessions.set(session.id, session);
    conn.session = session;
    this.record({ kind: 'identify', shard: shardId, sessionId: session.id });
    const owned = this.guilds.filter(g => LocalGateway.shardOf(g, shardCount) === shardId);
    this.dispatch(session, 'READY', {
      v: 10,
      user: { id: this.botUserId, username: 'local-bot', discriminator: '0', global_name: null, avatar: null, bot: true },
      guilds: owned.map(id => ({ id, unavailable: true })),
      session_id: session.id,
      resume_gateway_url: this.gatewayUrl,
      shard: [shardId, shardCount],
      application: { id: this.botUserId, flags: 0 },
    });
    for (const id of owned) {
      this.dispatch(session, 'GUILD_CREATE', {
        id,
        name: `guild ${id.slice(-6)}`,
        unavailable: false,
        member_count: 2,
        large: false,
        joined_at: new Date().toISOString(),
        channels: [{ id: this.channelOf(id), type: 0, name: 'general', guild_id: id }],
      });
    }
  }

  private resume(conn: Connection, d: any): void {
    if (conn.session) {
      return this.refuse(conn, GatewayCloseCodes.AlreadyAuthenticated, 'Already authenticated.');
    }
    if (!d || typeof d !== 'object' || d.token !== this.options.token) {
      return this.refuse(conn, GatewayCloseCodes.AuthenticationFailed, 'Authentication failed.');
    }
    const session = this.sessions.get(String(d.session_id));
    const expired = session?.detachedAt !== undefined && Date.now() - session.detachedAt > this.options.resumeWindowMs;
    if (!session || expired) {
      if (session) {
        this.sessions.delete(session.id);
      }
      this.record({ kind: 'invalid-session', reason: 'unknown or expired session on resume' });
      conn.ws.send(JSON.stringify({ op: GatewayOpcodes.InvalidSession, d: false }));
      return;
    }
    const seq = Number(d.seq);
    if (!Number.isInteger(seq) || seq > session.seq) {
      return this.refuse(conn, GatewayCloseCodes.InvalidSeq, 'Invalid seq.', session.shardId);
    }
    const oldest = session.buffer[0]?.s ?? session.seq + 1;
    if (seq + 1 < oldest) {
      this.record({ kind: 'invalid-session', shard: session.shardId, reason: 'missed dispatches no longer buffered' });
      conn.ws.send(JSON.stringify({ op: GatewayOpcodes.InvalidSession, d: false }));
      return;
    }
    // The session moves to this connection; an old one still open is closed.
    session.conn?.ws.close(GatewayCloseCodes.SessionTimedOut, 'Session resumed elsewhere.');
    session.conn = conn;
    session.detachedAt = undefined;
    conn.session = session;
    const missed = session.buffer.filter(x => x.s > seq);
    for (const x of missed) {
      conn.ws.send(JSON.stringify({ op: GatewayOpcodes.Dispatch, t: x.t, s: x.s, d: x.d }));
    }
    this.record({ kind: 'resume', shard: session.shardId, sessionId: session.id, replayed: missed.length });
    this.dispatch(session, 'RESUMED', {});
  }

  private refuse(conn: Connection, code: number, reason: string, shard?: number, why?: string): void {
    this.record({ kind: 'refused', shard, code, reason: why ?? reason });
    conn.ws.close(code, reason);
  }

  private onClose(conn: Connection, code: number): void {
    const session = conn.session;
    if (!session || session.conn !== conn) {
      return;
    }
    this.record({ kind: 'closed', shard: session.shardId, sessionId: session.id, code });
    session.conn = undefined;
    if (code === 1000 || code === 1001) {
      // A normal close ends the session, as on Discord; 4000-range closes (and drops) keep it resumable.
      this.sessions.delete(session.id);
    } else {
      session.detachedAt = Date.now();
    }
  }

  private dispatch(session: Session, t: string, d: unknown): void {
    const x: Dispatch = { s: ++session.seq, t, d };
    session.buffer.push(x);
    if (session.buffer.length > BUFFERED_DISPATCHES) {
      session.buffer.shift();
    }
    const guildId = (d as { guild_id?: string; id?: string })?.guild_id ?? (t === 'GUILD_CREATE' ? (d as { id: string }).id : undefined);
    this.record({ kind: 'dispatch', shard: session.shardId, sessionId: session.id, t, s: x.s, guildId });
    if (session.conn && session.conn.ws.readyState === WebSocket.OPEN) {
      session.conn.ws.send(JSON.stringify({ op: GatewayOpcodes.Dispatch, t, s: x.s, d }));
    }
  }

  private sessionFor(guildId: string): Session | undefined {
    let found: Session | undefined;
    for (const s of this.sessions.values()) {
      if (LocalGateway.shardOf(guildId, s.shardCount) === s.shardId && (!found || s.conn)) {
        found = s;
      }
    }
    return found;
  }

  private liveSession(shardId: number, shardCount?: number): Session | undefined {
    return [...this.sessions.values()].find(s => s.conn && s.shardId === shardId && (shardCount === undefined || s.shardCount === shardCount));
  }

  private record(event: Omit<GatewayEvent, 'at'>): void {
    this.events.push({ at: Date.now(), ...event });
    if (this.events.length > MAX_EVENTS) {
      this.events.splice(0, this.events.length - MAX_EVENTS);
    }
  }

  private messageObject(channelId: string, guildId: string | undefined, content: string, author: MessageAuthor): object {
    const id = (((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) + (this.messageCounter++ % 4096n)).toString();
    return {
      id,
      channel_id: channelId,
      guild_id: guildId,
      content,
      type: 0,
      tts: false,
      pinned: false,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds: [],
      author: { id: author.id, username: author.username, discriminator: '0', global_name: null, avatar: null, ...(author.bot ? { bot: true } : {}) },
    };
  }

  // ---- REST ----

  private rest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    readJson(req).then(body => {
      // Control routes of the stand-in (not Discord's): what a user types, and what was seen.
      if (url.pathname === '/local/messages' && req.method === 'POST') {
        const guildId = String(body?.guild_id ?? '');
        if (!this.guilds.includes(guildId) || typeof body?.content !== 'string') {
          return send(400, { message: `guild_id must be one of ${this.guilds.length} local guilds and content a string` });
        }
        return send(200, { shard: this.userMessage(guildId, body.content) ?? null });
      }
      if (url.pathname === '/local/state' && req.method === 'GET') {
        return send(200, { guilds: this.guilds, liveShards: this.liveShards(), posted: this.posted.slice(-50), events: this.events.slice(-200) });
      }
      const route = /^\/api\/v10(\/.*)$/.exec(url.pathname)?.[1];
      if (!route) {
        return send(404, { message: '404: Not Found', code: 0 });
      }
      if (req.headers.authorization !== `Bot ${this.options.token}`) {
        return send(401, { message: '401: Unauthorized', code: 0 });
      }
      if (route === '/gateway/bot' && req.method === 'GET') {
        return send(200, {
          url: this.gatewayUrl,
          shards: this.options.recommendedShards,
          session_start_limit: { total: 1000, remaining: 1000, reset_after: 86_400_000, max_concurrency: this.options.maxConcurrency },
        });
      }
      const channel = /^\/channels\/(\d{1,20})\/messages$/.exec(route)?.[1];
      if (channel && req.method === 'POST') {
        return this.postMessage(channel, body, send);
      }
      return send(404, { message: '404: Not Found', code: 0 });
    }).catch((err: Error) => send(400, { message: err.message, code: 50109 }));
  }

  private postMessage(channelId: string, body: any, send: (status: number, body: unknown) => void): void {
    const guildId = this.guildOfChannel(channelId);
    if (!guildId) {
      return send(404, { message: 'Unknown Channel', code: 10003 });
    }
    if (this.options.failingChannels.has(channelId)) {
      return send(500, { message: '500: Internal Server Error', code: 0 });
    }
    const content = body?.content;
    if (typeof content !== 'string' || content.length === 0 || content.length > 2000) {
      return send(400, { message: 'Invalid Form Body', code: 50035, errors: { content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' }] } } });
    }
    this.posted.push({ at: Date.now(), channelId, guildId, content });
    if (this.posted.length > MAX_EVENTS) {
      this.posted.splice(0, this.posted.length - MAX_EVENTS);
    }
    const message = this.messageObject(channelId, guildId, content, { id: this.botUserId, username: 'local-bot', bot: true });
    if (this.options.echoBotMessages) {
      const session = this.sessionFor(guildId);
      if (session) {
        this.dispatch(session, 'MESSAGE_CREATE', message);
      }
    }
    send(200, message);
  }
}

async function readJson(req: http.IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) {
      throw new Error('request body over 64 KiB');
    }
    chunks.push(chunk as Buffer);
  }
  if (size === 0) {
    return undefined;
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new Error('The request body contains invalid JSON.');
  }
}
