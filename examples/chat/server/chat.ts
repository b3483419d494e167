import { randomBytes } from 'crypto';
import * as http from 'http';
import type { Cluster, Redis } from 'ioredis';
import { ChatError } from './errors';
import { LocalSearch } from './local-search';
import { HistoryPage, MessageStore, newMessageId } from './messages';
import { MemoryPresence, PresenceStore, RedisPresence } from './presence';
import { ChatMessage, describeIssues, Envelope, LIMITS, Request, Requests, RequestType, ServerEvent, Session } from './protocol';
import { SessionSigner } from './sessions';
import { AttemptThrottle, MemoryAttemptThrottle, RedisAttemptThrottle } from './throttle';
import { checkPassword, normalizeUsername, UserStore } from './users';
import { Bus, connectRedis, createBus, Logger, readConfig, RealtimeClient, RealtimeServer, RuntimeConfig, serveStatic } from '../../kit';

/** Chat settings, from the environment (see examples/chat/README.md). */
export interface ChatSettings {
  readonly usersTable: string;
  readonly messagesTable: string;
  /** A local DynamoDB-API store (dynalite). @default - AWS */
  readonly dynamoEndpoint?: string;
  /** HMAC key of the session tokens (Secrets Manager in AWS). */
  readonly sessionSecret: string;
  /** The rooms, in the order the page lists them. */
  readonly rooms: readonly string[];
  /** A connection counts as present this long after its server last refreshed it. */
  readonly presenceTtlSeconds: number;
  /** Serve the LOCAL STAND-IN for the search API on /search (local runs only). */
  readonly localSearch: boolean;
  /** Serve web/ from here (local runs; in AWS the front door serves it). */
  readonly webDir?: string;
}

const ROOM_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/**
 * CdnFrontDoor's default Content-Security-Policy (src/front-door/cdn-front-door.ts), sent with `web/` in
 * local runs too, so the page is tried under the policy it gets in AWS. The browser test checks it matches.
 */
export const FRONT_DOOR_CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

export function readSettings(env: NodeJS.ProcessEnv = process.env): ChatSettings {
  const usersTable = env.CHAT_USERS_TABLE;
  const messagesTable = env.CHAT_MESSAGES_TABLE;
  const sessionSecret = env.CHAT_SESSION_SECRET;
  if (!usersTable || !messagesTable || !sessionSecret) {
    throw new Error('CHAT_USERS_TABLE, CHAT_MESSAGES_TABLE and CHAT_SESSION_SECRET must be set (npm run dev chat sets local ones)');
  }
  const rooms = (env.CHAT_ROOMS || 'general,random,help,aws').split(',').map(r => r.trim());
  const bad = rooms.find(r => !ROOM_NAME.test(r));
  if (bad !== undefined || rooms.length > 50 || new Set(rooms).size !== rooms.length) {
    throw new Error(`CHAT_ROOMS=${env.CHAT_ROOMS} must list 1-50 distinct room names of 1-32 characters a-z, 0-9, _ or - (${bad === undefined ? 'duplicates or too many' : `bad: "${bad}"`})`);
  }
  const ttlText = env.CHAT_PRESENCE_TTL_SECONDS;
  const presenceTtlSeconds = ttlText === undefined || ttlText === '' ? 30 : Number(ttlText);
  if (!Number.isInteger(presenceTtlSeconds) || presenceTtlSeconds < 2 || presenceTtlSeconds > 600) {
    throw new Error(`CHAT_PRESENCE_TTL_SECONDS=${ttlText} is not a whole number from 2 to 600`);
  }
  if (sessionSecret.length < 16) {
    throw new Error('CHAT_SESSION_SECRET must be at least 16 characters');
  }
  return {
    usersTable,
    messagesTable,
    dynamoEndpoint: env.DYNAMODB_ENDPOINT || undefined,
    sessionSecret,
    rooms,
    presenceTtlSeconds,
    localSearch: env.CHAT_LOCAL_SEARCH === '1',
    webDir: env.CHAT_WEB_DIR || undefined,
  };
}

/** What the server keeps about one WebSocket connection. */
export interface ChatConnection {
  /** `<server id>.<n>`: unique across servers; the member in the presence sets. */
  readonly key: string;
  username?: string;
  anonymous: boolean;
  /** The one room the connection is in: it gets that room's messages, typing and presence, no others. */
  room?: string;
  /** When it last relayed `typing` (0: not typing): repeats within a second are coalesced. */
  lastTypingAt: number;
  /** The connection's requests run one after another, in the order they arrived. */
  tail: Promise<void>;
  closed: boolean;
}

type Client = RealtimeClient<ChatConnection>;

/**
 * The chat system's server: accounts (scrypt) and anonymous users with signed session tokens, a fixed
 * list of rooms, history in DynamoDB, presence with expiry in Redis, typing, and fan-out over the bus to
 * the members of a room only. Every request gets an `ack` or an `error` frame (PROTOCOL.md).
 */
export class ChatServer {
  public readonly server: RealtimeServer<ChatConnection, Envelope>;
  public readonly log: Logger;
  /** The LOCAL STAND-IN for the search API, when `CHAT_LOCAL_SEARCH=1`. */
  public readonly search?: LocalSearch;
  private readonly serverId = randomBytes(4).toString('hex');
  private connections = 0;
  private readonly bus: Bus;
  private readonly redis?: Redis | Cluster;
  private readonly presence: PresenceStore;
  private readonly userAttempts: AttemptThrottle;
  private readonly connectionAttempts: AttemptThrottle;
  private readonly users: UserStore;
  private readonly messages: MessageStore;
  private readonly sessions: SessionSigner;
  private readonly rooms: Set<string>;
  /** Room to this server's connections in it. */
  private readonly members = new Map<string, Set<Client>>();
  /** Room to the count its local members last heard. */
  private readonly told = new Map<string, number>();
  private readonly pending = new Set<Promise<unknown>>();
  private refresher?: NodeJS.Timeout;
  private refreshing = false;

  constructor(private readonly settings: ChatSettings, config: RuntimeConfig = readConfig()) {
    this.server = new RealtimeServer<ChatConnection, Envelope>({
      name: 'chat',
      config,
      maxFrameBytes: LIMITS.maxFrameBytes,
      maxMessageBytes: LIMITS.maxMessageBytes,
      authenticate: () => this.newConnection(),
      messages: { schema: Envelope, handle: (client, envelope) => this.enqueue(client, envelope) },
      onClose: client => this.disconnected(client),
      http: (req, res, url) => this.route(req, res, url),
      onDrain: () => this.settle(),
      onShutdown: () => this.close(),
    });
    this.log = this.server.log;
    this.bus = createBus(config, this.log);
    const ttlMs = settings.presenceTtlSeconds * 1000;
    const windowMs = LIMITS.loginWindowSeconds * 1000;
    if (config.busUrl) {
      this.redis = connectRedis(config, this.log, 'chat-state', { commandTimeoutMs: 2000 });
      this.presence = new RedisPresence(this.redis, ttlMs);
      this.userAttempts = new RedisAttemptThrottle(this.redis, LIMITS.loginFailures, windowMs);
    } else {
      this.presence = new MemoryPresence(ttlMs);
      this.userAttempts = new MemoryAttemptThrottle(LIMITS.loginFailures, windowMs);
    }
    this.connectionAttempts = new MemoryAttemptThrottle(LIMITS.loginFailures, windowMs);
    this.users = new UserStore(settings.usersTable, settings.dynamoEndpoint);
    this.messages = new MessageStore(settings.messagesTable, settings.dynamoEndpoint);
    this.sessions = new SessionSigner(settings.sessionSecret);
    this.rooms = new Set(settings.rooms);
    this.search = settings.localSearch ? new LocalSearch() : undefined;
  }

  public async start(): Promise<number> {
    await Promise.all(this.settings.rooms.map(room => this.bus.subscribe(roomChannel(room), payload => this.relay(room, payload))));
    const port = await this.server.listen();
    this.refresher = setInterval(() => void this.refreshPresence(), (this.settings.presenceTtlSeconds * 1000) / 3);
    if (this.search) {
      this.log.warn('serving the LOCAL STAND-IN for the search API on /search (CHAT_LOCAL_SEARCH=1); never in AWS');
    }
    return port;
  }

  private newConnection(): ChatConnection {
    return { key: `${this.serverId}.${++this.connections}`, anonymous: false, lastTypingAt: 0, tail: Promise.resolve(), closed: false };
  }

  /** Runs a connection's requests one at a time, so each sees the state the previous one left. */
  private enqueue(client: Client, envelope: Envelope): Promise<void> {
    const run = client.context.tail.then(() => this.dispatch(client, envelope));
    client.context.tail = run.catch(() => undefined);
    this.track(run);
    return run;
  }

  private async dispatch(client: Client, envelope: Envelope): Promise<void> {
    if (client.context.closed) {
      return;
    }
    try {
      const result = await this.handle(client, envelope);
      if (envelope.id !== undefined && result !== undefined) {
        client.send({ type: 'ack', id: envelope.id, result } satisfies ServerEvent);
      }
    } catch (err) {
      if (err instanceof ChatError) {
        if (err.code === 'bad_credentials' || err.code === 'rate_limited') {
          this.server.metrics.count('LoginFailures');
        }
        client.error(err.code, err.message, { ...(envelope.id === undefined ? {} : { id: envelope.id }), ...err.extra });
        return;
      }
      // The kit logs it and answers `internal`.
      throw err;
    }
  }

  private async handle(client: Client, envelope: Envelope): Promise<unknown> {
    if (!Object.hasOwn(Requests, envelope.type)) {
      throw new ChatError('unknown_type', `unknown type ${JSON.stringify(envelope.type)}; the types are ${Object.keys(Requests).join(', ')}`);
    }
    const parsed = Requests[envelope.type as RequestType].safeParse(envelope);
    if (!parsed.success) {
      throw new ChatError('invalid_request', describeIssues(parsed.error));
    }
    const request = parsed.data as Request;
    const ctx = client.context;
    switch (request.type) {
      case 'create_user':
        return this.createUser(ctx, request.username, request.password);
      case 'authenticate_user':
        return this.authenticateUser(ctx, request.username, request.password);
      case 'anonymous_user':
        this.requireLoggedOut(ctx);
        return this.login(ctx, `${LIMITS.reservedPrefix}${randomBytes(3).toString('hex')}`);
      case 'resume_session': {
        this.requireLoggedOut(ctx);
        const session = this.sessions.verify(request.token);
        if (!session) {
          throw new ChatError('bad_token', 'the session token is invalid or expired; log in again');
        }
        return this.login(ctx, session.username);
      }
      case 'room_list': {
        const counts = await this.presenceCall(() => this.presence.counts(this.settings.rooms));
        return { rooms: this.settings.rooms.map(name => ({ name, numUsers: counts.get(name) ?? 0 })) };
      }
      case 'join_room':
        return this.joinRoom(client, request.room);
      case 'new_message':
        return this.newMessage(ctx, request.room, request.text);
      case 'message_list':
        this.requireLogin(ctx);
        this.requireRoom(request.room);
        return this.messages.page(request.room, request.cursor) satisfies Promise<HistoryPage>;
      case 'typing': {
        const username = this.requireMember(ctx, request.room);
        const now = Date.now();
        if (now - ctx.lastTypingAt >= 1000) {
          ctx.lastTypingAt = now;
          this.publish(request.room, { type: 'typing', room: request.room, username }, ctx.key);
        }
        return undefined;
      }
      case 'stop_typing': {
        const username = this.requireMember(ctx, request.room);
        // Only after a relayed `typing`: the others have nothing to stop otherwise.
        if (ctx.lastTypingAt !== 0) {
          ctx.lastTypingAt = 0;
          this.publish(request.room, { type: 'stop_typing', room: request.room, username }, ctx.key);
        }
        return undefined;
      }
    }
  }

  private async createUser(ctx: ChatConnection, rawUsername: string, password: string): Promise<Session> {
    this.requireLoggedOut(ctx);
    const username = normalizeUsername(rawUsername);
    checkPassword(password);
    await this.throttle([[this.connectionAttempts, ctx.key]]);
    await this.users.create(username, password);
    this.log.info({ username }, 'user created');
    return this.login(ctx, username);
  }

  private async authenticateUser(ctx: ChatConnection, rawUsername: string, password: string): Promise<Session> {
    this.requireLoggedOut(ctx);
    const username = normalizeUsername(rawUsername);
    checkPassword(password);
    await this.throttle([[this.userAttempts, username], [this.connectionAttempts, ctx.key]]);
    if (!(await this.users.verify(username, password))) {
      throw new ChatError('bad_credentials', 'wrong user name or password');
    }
    await this.userAttempts.clear(username).catch(err => this.log.warn({ err: err.message }, 'log-in attempts not cleared'));
    return this.login(ctx, username);
  }

  /** Counts an attempt against every key; `rate_limited` with `retryAfterMs` when any is over its limit. */
  private async throttle(keys: Array<[AttemptThrottle, string]>): Promise<void> {
    let waits: number[];
    try {
      waits = await Promise.all(keys.map(([throttle, key]) => throttle.attempt(key)));
    } catch (err) {
      throw new ChatError('unavailable', `log-in is briefly unavailable (${(err as Error).message}); try again`);
    }
    const wait = Math.max(...waits);
    if (wait > 0) {
      throw new ChatError('rate_limited', `too many log-in attempts; wait ${Math.ceil(wait / 1000)} s`, { retryAfterMs: wait });
    }
  }

  private login(ctx: ChatConnection, username: string): Session {
    ctx.username = username;
    ctx.anonymous = username.startsWith(LIMITS.reservedPrefix);
    return { username, anonymous: ctx.anonymous, ...this.sessions.issue(username) };
  }

  private async joinRoom(client: Client, room: string): Promise<{ room: string; numUsers: number }> {
    const ctx = client.context;
    const username = this.requireLogin(ctx);
    this.requireRoom(room);
    if (ctx.room === room) {
      return { room, numUsers: await this.presenceCall(() => this.presence.join(room, ctx.key)) };
    }
    this.leaveRoom(client);
    ctx.room = room;
    ctx.lastTypingAt = 0;
    this.roomMembers(room).add(client);
    let numUsers: number;
    try {
      numUsers = await this.presenceCall(() => this.presence.join(room, ctx.key));
    } catch (err) {
      this.roomMembers(room).delete(client);
      ctx.room = undefined;
      throw err;
    }
    this.publish(room, { type: 'user_joined', room, username, numUsers }, ctx.key, numUsers);
    return { room, numUsers };
  }

  /** Takes the connection out of its room now; presence and the `user_left` event follow. */
  private leaveRoom(client: Client): void {
    const ctx = client.context;
    const room = ctx.room;
    if (room === undefined) {
      return;
    }
    ctx.room = undefined;
    this.members.get(room)?.delete(client);
    const username = ctx.username!;
    this.track(this.presence.leave(room, ctx.key).then(
      numUsers => this.publish(room, { type: 'user_left', room, username, numUsers }, ctx.key, numUsers),
      err => this.log.warn({ err: err.message, room }, 'presence not updated on leave; the entry expires'),
    ));
  }

  private async newMessage(ctx: ChatConnection, room: string, rawText: string): Promise<ChatMessage> {
    const username = this.requireMember(ctx, room);
    const text = rawText.trim();
    const length = [...text].length;
    if (length === 0 || length > LIMITS.textMax) {
      throw new ChatError('invalid_text', `a message has 1-${LIMITS.textMax} characters (${length} after trimming)`);
    }
    const time = Date.now();
    const message: ChatMessage = { room, message: newMessageId(time), username, text, time };
    await this.messages.put(message);
    this.search?.add(message);
    this.server.metrics.count('ChatMessages');
    ctx.lastTypingAt = 0;
    this.publish(room, { type: 'new_message', ...message });
    return message;
  }

  /**
   * Sends an event to a room's members on every server. The bus payload is a header line,
   * `<connection to skip> <count>`, then the frame's JSON, serialized here once; every server writes those
   * bytes, framed once, to its own members of the room.
   */
  private publish(room: string, event: ServerEvent, except = '', count?: number): void {
    const payload = `${except} ${count ?? ''}\n${JSON.stringify(event)}`;
    this.track(this.bus.publish(roomChannel(room), payload).catch(err => {
      this.log.warn({ err: err.message, room, type: event.type }, 'event not published');
    }));
  }

  private relay(room: string, payload: Buffer): void {
    const newline = payload.indexOf(10);
    if (newline < 0) {
      return;
    }
    const [except, count] = payload.subarray(0, newline).toString().split(' ');
    if (count) {
      this.told.set(room, Number(count));
    }
    const members = this.members.get(room);
    if (!members || members.size === 0) {
      return;
    }
    this.server.broadcast(payload.subarray(newline + 1), {
      binary: false,
      clients: members,
      filter: except ? client => client.context.key !== except : undefined,
    });
  }

  /**
   * Every third of the expiry window: extends this server's members, prunes the expired (those of a
   * server that died), and tells local members of a room whose count changed.
   */
  private async refreshPresence(): Promise<void> {
    if (this.refreshing) {
      return;
    }
    this.refreshing = true;
    try {
      const mine = new Map<string, string[]>();
      for (const [room, clients] of this.members) {
        if (clients.size > 0) {
          mine.set(room, [...clients].map(c => c.context.key));
        }
      }
      const counts = await this.presence.refresh(mine, [...mine.keys()]);
      for (const [room, numUsers] of counts) {
        const members = this.members.get(room);
        if (this.told.get(room) !== numUsers && members && members.size > 0) {
          this.told.set(room, numUsers);
          this.server.broadcast(JSON.stringify({ type: 'presence', room, numUsers } satisfies ServerEvent), { binary: false, clients: members });
        }
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'presence not refreshed');
    } finally {
      this.refreshing = false;
    }
  }

  private disconnected(client: Client): void {
    client.context.closed = true;
    this.leaveRoom(client);
  }

  private requireLoggedOut(ctx: ChatConnection): void {
    if (ctx.username !== undefined) {
      throw new ChatError('already_logged_in', `this connection is logged in as ${ctx.username}; open a new one to switch`);
    }
  }

  private requireLogin(ctx: ChatConnection): string {
    if (ctx.username === undefined) {
      throw new ChatError('not_logged_in', 'log in first: authenticate_user, create_user, anonymous_user or resume_session');
    }
    return ctx.username;
  }

  private requireRoom(room: string): void {
    if (!this.rooms.has(room)) {
      throw new ChatError('unknown_room', `no room ${JSON.stringify(room)}; the rooms are ${this.settings.rooms.join(', ')}`);
    }
  }

  private requireMember(ctx: ChatConnection, room: string): string {
    const username = this.requireLogin(ctx);
    this.requireRoom(room);
    if (ctx.room !== room) {
      throw new ChatError('not_in_room', `join ${room} first (this connection is in ${ctx.room ?? 'no room'})`);
    }
    return username;
  }

  private roomMembers(room: string): Set<Client> {
    let set = this.members.get(room);
    if (!set) {
      set = new Set();
      this.members.set(room, set);
    }
    return set;
  }

  private async presenceCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw new ChatError('unavailable', `presence is briefly unavailable (${(err as Error).message}); try again`);
    }
  }

  private track(work: Promise<unknown>): void {
    this.pending.add(work);
    work.then(() => this.pending.delete(work), () => this.pending.delete(work));
  }

  /** Waits for presence updates and events still on their way (runs after the drain closed every client). */
  private async settle(): Promise<void> {
    while (this.pending.size > 0) {
      await Promise.allSettled([...this.pending]);
    }
  }

  private async close(): Promise<void> {
    clearInterval(this.refresher);
    await this.settle();
    await this.bus.close();
    await this.presence.close();
    this.redis?.disconnect();
    this.userAttempts.close();
    this.connectionAttempts.close();
    this.users.close();
    this.messages.close();
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<boolean> {
    if (this.search?.handle(req, res, url)) {
      return true;
    }
    if (req.method === 'GET' && this.settings.webDir) {
      res.setHeader('content-security-policy', FRONT_DOOR_CSP);
      return serveStatic(this.settings.webDir, url.pathname, res);
    }
    return false;
  }
}

function roomChannel(room: string): string {
  return `chat:room:${room}`;
}
