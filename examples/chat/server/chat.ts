import { randomBytes } from 'crypto';
import * as http from 'http';
import type { Cluster, Redis } from 'ioredis';
import { ChatError } from './errors';
import { HashGate } from './hash-gate';
import { LocalSearch } from './local-search';
import { HistoryPage, messageIdFloor, MessageStore, newMessageId } from './messages';
import { MemoryPresence, PresenceStore, RedisPresence } from './presence';
import { ChatMessage, describeIssues, Envelope, JoinResult, LIMITS, Request, Requests, RequestType, ServerEvent, Session } from './protocol';
import { MemorySendLimit, RedisSendLimit, SendLimit } from './send-limit';
import { MemorySessionStore, RedisSessionStore, SessionClaims, SessionSigner, SessionStore } from './sessions';
import { AttemptThrottle, MemoryAttemptThrottle, RedisAttemptThrottle } from './throttle';
import { checkPassword, normalizeUsername, UserStore } from './users';
import { addressKey, Bus, clientAddress, connectRedis, createBus, Logger, readConfig, RealtimeClient, RealtimeServer, RuntimeConfig, serveStatic } from '../../kit';

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
  /** A holder counts as present this long after its server last refreshed it. */
  readonly presenceTtlSeconds: number;
  /** How long after a user's last connection in a room closed its leave waits for a reconnect (a drain's). */
  readonly presenceGraceSeconds: number;
  /** Proxies in front of the server that append to X-Forwarded-For (ALB = 1, CloudFront + ALB = 2). */
  readonly trustedProxies: number;
  /** Log-ins (`create_user`, `authenticate_user`, `anonymous_user`) one address (IPv6: its /64) may try a minute, across servers. */
  readonly loginsPerAddress: number;
  /** Open connections one address (IPv6: its /64) may hold on one server; beyond, the upgrade is answered 429. */
  readonly connectionsPerAddress: number;
  /** Password hashes running at once in one server; log-ins beyond are refused with `busy`. */
  readonly maxConcurrentHashes: number;
  /** A session ends this long after its log-in, however often it is resumed. */
  readonly sessionSeconds: number;
  /** Messages one user may send a second, across connections and servers, and the burst it may save up. */
  readonly userMessagesPerSecond: number;
  readonly userMessageBurst: number;
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
  const num = (name: string, fallback: number, min: number, max: number) => {
    const text = env[name];
    const value = text === undefined || text === '' ? fallback : Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`${name}=${text} is not a whole number from ${min} to ${max}`);
    }
    return value;
  };
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
  if (sessionSecret.length < 16) {
    throw new Error('CHAT_SESSION_SECRET must be at least 16 characters');
  }
  return {
    usersTable,
    messagesTable,
    dynamoEndpoint: env.DYNAMODB_ENDPOINT || undefined,
    sessionSecret,
    rooms,
    presenceTtlSeconds: num('CHAT_PRESENCE_TTL_SECONDS', 30, 2, 600),
    presenceGraceSeconds: num('CHAT_PRESENCE_GRACE_SECONDS', 5, 0, 60),
    trustedProxies: num('CHAT_TRUSTED_PROXIES', 1, 0, 5),
    loginsPerAddress: num('CHAT_LOGINS_PER_ADDRESS', 30, 1, 100_000),
    connectionsPerAddress: num('CHAT_CONNECTIONS_PER_ADDRESS', 100, 1, 100_000),
    maxConcurrentHashes: num('CHAT_MAX_CONCURRENT_HASHES', 4, 1, 64),
    sessionSeconds: num('CHAT_SESSION_SECONDS', 12 * 3600, 60, 30 * 86_400),
    userMessagesPerSecond: num('CHAT_USER_MESSAGES_PER_SECOND', 5, 1, 1000),
    userMessageBurst: num('CHAT_USER_MESSAGE_BURST', 20, 1, 10_000),
    localSearch: env.CHAT_LOCAL_SEARCH === '1',
    webDir: env.CHAT_WEB_DIR || undefined,
  };
}

/** What the server keeps about one WebSocket connection. */
export interface ChatConnection {
  /** `<server id>.<n>`: unique across servers. */
  readonly key: string;
  /** What per-address limits count on (see the kit's `addressKey`). */
  readonly address: string;
  username?: string;
  anonymous: boolean;
  /** The session the connection logged in with or resumed: a log-out ends it. */
  sessionId?: string;
  /** The one room the connection is in: it gets that room's messages, typing and presence, no others. */
  room?: string;
  /** Room events held back while `join_room` reads the first history page (bus payloads). */
  joinBuffer?: Buffer[];
  /**
   * Ids of the first history page, for a while after the join: a message stored before the page was read
   * may still be on its way over the bus, and must not arrive twice.
   */
  pageIds?: Set<string>;
  /** When it last relayed `typing` (0: not typing): repeats within a second are coalesced. */
  lastTypingAt: number;
  /** The connection's requests run one after another, in the order they arrived. */
  tail: Promise<void>;
  closed: boolean;
}

type Client = RealtimeClient<ChatConnection>;

/** Message ids a server remembers per room, to relay each once (after a bus reconnect too) and count unread. */
const RECENT_IDS = 500;
/** How far before the last relayed message a bus recovery looks, for ids that were stored out of order. */
const RECOVERY_MARGIN_MS = 5000;
/** Most messages a bus recovery relays per room. */
const RECOVERY_LIMIT = 200;
/** How long after a join the messages of its first page are kept from arriving again as events. */
const PAGE_DEDUPE_MS = 10_000;
/** `room_list`'s unread counts stop here. */
const UNREAD_MAX = 99;
const SESSIONS_CHANNEL = 'chat:sessions';

/**
 * The chat system's server: accounts (scrypt) and anonymous users with signed, revocable session tokens,
 * a fixed list of rooms, history in DynamoDB, presence of distinct users with expiry in Redis, typing, and
 * fan-out over the bus to the members of a room only. Every request gets an `ack` or an `error` frame
 * (PROTOCOL.md). Log-ins are limited per address across servers and by concurrent hashes per server;
 * messages per user across servers.
 */
export class ChatServer {
  public readonly server: RealtimeServer<ChatConnection, Envelope>;
  public readonly log: Logger;
  /** The LOCAL STAND-IN for the search API, when `CHAT_LOCAL_SEARCH=1`. */
  public readonly search?: LocalSearch;
  private readonly serverId = randomBytes(4).toString('hex');
  private connections = 0;
  private readonly startedAt = Date.now();
  private readonly bus: Bus;
  private readonly redis?: Redis | Cluster;
  private readonly presence: PresenceStore;
  private readonly userAttempts: AttemptThrottle;
  private readonly addressAttempts: AttemptThrottle;
  private readonly connectionAttempts: AttemptThrottle;
  private readonly sendLimit: SendLimit;
  private readonly users: UserStore;
  private readonly messages: MessageStore;
  private readonly signer: SessionSigner;
  private readonly sessions: SessionStore;
  private readonly rooms: Set<string>;
  /** Room to this server's connections in it (fan-out). */
  private readonly members = new Map<string, Set<Client>>();
  /** Room to its connections that are joining (their events are held back). */
  private readonly joining = new Map<string, Set<Client>>();
  /** Room to its connections that joined lately (events of their first page's messages are skipped). */
  private readonly joinedLately = new Map<string, Set<Client>>();
  /** Room to user to this server's connections of that user in it (presence holders). */
  private readonly holders = new Map<string, Map<string, Set<Client>>>();
  /** `<room>\n<user>` of holders whose leave waits out the grace period. */
  private readonly leaving = new Map<string, { cancelled: boolean }>();
  /** User to this server's logged-in connections of that user. */
  private readonly byUser = new Map<string, Set<Client>>();
  /** Room to the count its local members last heard. */
  private readonly told = new Map<string, number>();
  /** Room to the ids of the messages this server relayed last, oldest first. */
  private readonly recent = new Map<string, { ids: Set<string>; order: string[] }>();
  private readonly pending = new Set<Promise<unknown>>();
  private refresher?: NodeJS.Timeout;
  private refreshing = false;

  constructor(private readonly settings: ChatSettings, config: RuntimeConfig = readConfig()) {
    this.server = new RealtimeServer<ChatConnection, Envelope>({
      name: 'chat',
      config,
      maxFrameBytes: LIMITS.maxFrameBytes,
      maxMessageBytes: LIMITS.maxMessageBytes,
      connectionsPerAddress: { max: settings.connectionsPerAddress, trustedProxies: settings.trustedProxies },
      authenticate: req => this.newConnection(req),
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
      this.addressAttempts = new RedisAttemptThrottle(this.redis, settings.loginsPerAddress, windowMs);
      this.sendLimit = new RedisSendLimit(this.redis, settings.userMessagesPerSecond, settings.userMessageBurst);
      this.sessions = new RedisSessionStore(this.redis);
    } else {
      this.presence = new MemoryPresence(ttlMs);
      this.userAttempts = new MemoryAttemptThrottle(LIMITS.loginFailures, windowMs);
      this.addressAttempts = new MemoryAttemptThrottle(settings.loginsPerAddress, windowMs);
      this.sendLimit = new MemorySendLimit(settings.userMessagesPerSecond, settings.userMessageBurst);
      this.sessions = new MemorySessionStore();
    }
    this.connectionAttempts = new MemoryAttemptThrottle(LIMITS.loginFailures, windowMs);
    this.users = new UserStore(settings.usersTable, settings.dynamoEndpoint, new HashGate(settings.maxConcurrentHashes));
    this.messages = new MessageStore(settings.messagesTable, settings.dynamoEndpoint);
    this.signer = new SessionSigner(settings.sessionSecret, settings.sessionSeconds * 1000);
    this.rooms = new Set(settings.rooms);
    this.search = settings.localSearch ? new LocalSearch() : undefined;
  }

  public async start(): Promise<number> {
    await Promise.all(this.settings.rooms.map(room => this.bus.subscribe(roomChannel(room), payload => this.relay(room, payload))));
    await this.bus.subscribe(SESSIONS_CHANNEL, payload => this.sessionsEnded(payload.toString()));
    this.bus.onResubscribed(() => this.track(this.recover()));
    const port = await this.server.listen();
    this.refresher = setInterval(() => void this.refreshPresence(), (this.settings.presenceTtlSeconds * 1000) / 3);
    if (this.search) {
      this.log.warn('serving the LOCAL STAND-IN for the search API on /search (CHAT_LOCAL_SEARCH=1); never in AWS');
    }
    return port;
  }

  private newConnection(req: http.IncomingMessage): ChatConnection {
    return {
      key: `${this.serverId}.${++this.connections}`,
      address: addressKey(clientAddress(req, this.settings.trustedProxies)),
      anonymous: false,
      lastTypingAt: 0,
      tail: Promise.resolve(),
      closed: false,
    };
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
        if (err.code === 'bad_credentials' || err.code === 'rate_limited' || err.code === 'busy') {
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
        return this.createUser(client, request.username, request.password);
      case 'authenticate_user':
        return this.authenticateUser(client, request.username, request.password);
      case 'anonymous_user':
        return this.anonymousUser(client);
      case 'resume_session':
        return this.resumeSession(client, request.token);
      case 'log_out':
        return this.logOut(client, request.everywhere ?? false);
      case 'room_list':
        return this.roomList(request.since);
      case 'room_members': {
        this.requireLogin(ctx);
        this.requireRoom(request.room);
        const { usernames, numUsers } = await this.presenceCall(() => this.presence.members(request.room, LIMITS.membersListMax));
        return { room: request.room, numUsers, usernames: usernames.sort() };
      }
      case 'join_room':
        await this.joinRoom(client, request.room, request.id);
        return undefined;
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

  // ---- accounts and sessions ----

  private async createUser(client: Client, rawUsername: string, password: string): Promise<Session> {
    const ctx = client.context;
    this.requireLoggedOut(ctx);
    const username = normalizeUsername(rawUsername);
    checkPassword(password);
    await this.throttle([[this.connectionAttempts, ctx.key], [this.addressAttempts, `address:${ctx.address}`]]);
    await this.users.create(username, password);
    this.log.info({ username }, 'user created');
    return this.login(client, username);
  }

  private async authenticateUser(client: Client, rawUsername: string, password: string): Promise<Session> {
    const ctx = client.context;
    this.requireLoggedOut(ctx);
    const username = normalizeUsername(rawUsername);
    checkPassword(password);
    await this.throttle([[this.userAttempts, username], [this.connectionAttempts, ctx.key], [this.addressAttempts, `address:${ctx.address}`]]);
    if (!(await this.users.verify(username, password))) {
      throw new ChatError('bad_credentials', 'wrong user name or password');
    }
    await this.userAttempts.clear(username).catch(err => this.log.warn({ err: err.message }, 'log-in attempts not cleared'));
    return this.login(client, username);
  }

  /** A fresh random name, reserved in the session store for as long as its session lives. */
  private async anonymousUser(client: Client): Promise<Session> {
    const ctx = client.context;
    this.requireLoggedOut(ctx);
    await this.throttle([[this.addressAttempts, `address:${ctx.address}`]]);
    for (let attempt = 0; attempt < 5; attempt++) {
      const username = `${LIMITS.reservedPrefix}${randomName(LIMITS.anonymousNameLength)}`;
      const { token, claims } = this.signer.issue(username);
      if (await this.sessionCall(() => this.sessions.add(claims, true))) {
        return this.loggedIn(client, token, claims);
      }
    }
    throw new ChatError('unavailable', 'no free anonymous name was found; try again');
  }

  private async resumeSession(client: Client, token: string): Promise<Session> {
    this.requireLoggedOut(client.context);
    const claims = this.signer.verify(token);
    if (!claims) {
      throw new ChatError('bad_token', 'the session token is invalid or expired; log in again');
    }
    if (!(await this.sessionCall(() => this.sessions.isLive(claims)))) {
      throw new ChatError('bad_token', 'the session has ended (logged out); log in again');
    }
    // The same token: a session ends at a fixed time after its log-in, however often it is resumed.
    return this.loggedIn(client, token, claims);
  }

  private async login(client: Client, username: string): Promise<Session> {
    const { token, claims } = this.signer.issue(username);
    await this.sessionCall(() => this.sessions.add(claims));
    return this.loggedIn(client, token, claims);
  }

  private loggedIn(client: Client, token: string, claims: SessionClaims): Session {
    const ctx = client.context;
    if (ctx.closed) {
      return { username: claims.username, anonymous: claims.anonymous, token, expiresAt: claims.expiresAt };
    }
    ctx.username = claims.username;
    ctx.anonymous = claims.anonymous;
    ctx.sessionId = claims.sessionId;
    let mine = this.byUser.get(claims.username);
    if (!mine) {
      mine = new Set();
      this.byUser.set(claims.username, mine);
    }
    mine.add(client);
    return { username: claims.username, anonymous: claims.anonymous, token, expiresAt: claims.expiresAt };
  }

  /** Ends this connection's session (or every session of its user) on every server; the connection is logged out. */
  private async logOut(client: Client, everywhere: boolean): Promise<{ everywhere: boolean }> {
    const ctx = client.context;
    const username = this.requireLogin(ctx);
    const sessionId = ctx.sessionId!;
    await this.sessionCall(() => (everywhere ? this.sessions.revokeAll(username) : this.sessions.revoke(username, sessionId)));
    this.forget(client);
    this.track(this.bus.publish(SESSIONS_CHANNEL, `${username} ${everywhere ? '*' : sessionId}`).catch(err => {
      this.log.warn({ err: err.message }, 'log-out not published; other connections of the session stay logged in until they reconnect');
    }));
    return { everywhere };
  }

  /** Another server (or this one) ended sessions: log their connections here out, and tell them. */
  private sessionsEnded(payload: string): void {
    const [username, sessionId] = payload.split(' ');
    for (const client of [...(this.byUser.get(username) ?? [])]) {
      if (sessionId === '*' || client.context.sessionId === sessionId) {
        this.forget(client);
        client.send({ type: 'logged_out', reason: sessionId === '*' ? 'log_out_everywhere' : 'log_out' } satisfies ServerEvent);
      }
    }
  }

  /** The connection leaves its room and is no longer logged in. */
  private forget(client: Client): void {
    const ctx = client.context;
    this.leaveRoom(client);
    if (ctx.username !== undefined) {
      const mine = this.byUser.get(ctx.username);
      mine?.delete(client);
      if (mine?.size === 0) {
        this.byUser.delete(ctx.username);
      }
    }
    ctx.username = undefined;
    ctx.sessionId = undefined;
    ctx.anonymous = false;
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

  // ---- rooms ----

  /**
   * Joins the room and acks with its count and newest history page. The room's events are held back
   * from the moment the connection is a member until the page was read (consistently) and acked; then
   * those not in the page follow, so a message posted meanwhile arrives exactly once.
   */
  private async joinRoom(client: Client, room: string, id: number): Promise<void> {
    const ctx = client.context;
    const username = this.requireLogin(ctx);
    this.requireRoom(room);
    const moving = ctx.room !== room;
    if (moving) {
      this.leaveRoom(client);
      ctx.room = room;
      ctx.lastTypingAt = 0;
      this.roomMembers(room).add(client);
      this.hold(room, username, client);
    }
    ctx.joinBuffer = [];
    setOf(this.joining, room).add(client);
    let result: JoinResult;
    try {
      const change = await this.presenceCall(() => this.presence.join(room, username, this.serverId));
      const page = await this.messages.page(room, undefined, true);
      if (change.changed) {
        this.publish(room, { type: 'user_joined', room, username, numUsers: change.numUsers }, ctx.key, change.numUsers);
      }
      result = { room, numUsers: change.numUsers, messages: page.messages, ...(page.next ? { next: page.next } : {}) };
    } catch (err) {
      this.joining.get(room)?.delete(client);
      ctx.joinBuffer = undefined;
      if (moving) {
        this.leaveRoom(client);
      }
      throw err;
    }
    const held = ctx.joinBuffer ?? [];
    this.joining.get(room)?.delete(client);
    ctx.joinBuffer = undefined;
    if (ctx.closed || ctx.room !== room) {
      return;
    }
    client.send({ type: 'ack', id, result } satisfies ServerEvent);
    const inPage = new Set(result.messages.map(m => m.message));
    this.skipPageLater(client, room, inPage);
    const oldest = result.messages[result.messages.length - 1]?.message;
    for (const payload of held) {
      const { except, messageId, frame } = parsePayload(payload);
      // Older than the page's oldest (with more pages): the client reads it with the next page.
      if (except === ctx.key || (messageId && (inPage.has(messageId) || (result.next && oldest && messageId < oldest)))) {
        continue;
      }
      if (frame) {
        this.server.broadcast(frame, { binary: false, clients: [client] });
      }
    }
  }

  /** For a while, events of the page's messages are not sent to the client (they were in its page). */
  private skipPageLater(client: Client, room: string, ids: Set<string>): void {
    if (ids.size === 0) {
      return;
    }
    client.context.pageIds = ids;
    setOf(this.joinedLately, room).add(client);
    setTimeout(() => {
      if (client.context.pageIds === ids) {
        client.context.pageIds = undefined;
      }
      this.joinedLately.get(room)?.delete(client);
    }, PAGE_DEDUPE_MS).unref();
  }

  /** Takes the connection out of its room now; its user's leave follows after the grace period. */
  private leaveRoom(client: Client): void {
    const ctx = client.context;
    const room = ctx.room;
    if (room === undefined) {
      return;
    }
    ctx.room = undefined;
    ctx.joinBuffer = undefined;
    ctx.pageIds = undefined;
    this.members.get(room)?.delete(client);
    this.joining.get(room)?.delete(client);
    this.joinedLately.get(room)?.delete(client);
    const username = ctx.username!;
    const users = this.holders.get(room);
    const mine = users?.get(username);
    mine?.delete(client);
    if (users && mine && mine.size === 0) {
      users.delete(username);
      this.leaveLater(room, username);
    }
  }

  /** This server holds the user in the room: a leave waiting out its grace period is called off. */
  private hold(room: string, username: string, client: Client): void {
    let users = this.holders.get(room);
    if (!users) {
      users = new Map();
      this.holders.set(room, users);
    }
    setOf(users, username).add(client);
    const waiting = this.leaving.get(`${room}\n${username}`);
    if (waiting) {
      waiting.cancelled = true;
      this.leaving.delete(`${room}\n${username}`);
    }
  }

  /**
   * Removes this server's holder of the user once the grace period passed without a connection of that
   * user returning here; `user_left` only when no other server holds the user either. A drained user that
   * reconnected elsewhere meanwhile is still held there, so nobody hears a leave and a join.
   */
  private leaveLater(room: string, username: string): void {
    const key = `${room}\n${username}`;
    if (this.leaving.has(key)) {
      return;
    }
    const entry = { cancelled: false };
    this.leaving.set(key, entry);
    this.track((async () => {
      await new Promise(resolve => setTimeout(resolve, this.settings.presenceGraceSeconds * 1000));
      if (entry.cancelled) {
        return;
      }
      this.leaving.delete(key);
      try {
        const change = await this.presence.leave(room, username, this.serverId);
        if (change.changed) {
          this.publish(room, { type: 'user_left', room, username, numUsers: change.numUsers }, '', change.numUsers);
        }
      } catch (err) {
        this.log.warn({ err: (err as Error).message, room }, 'presence not updated on leave; the holder expires');
      }
    })());
  }

  private async roomList(since?: Record<string, string>): Promise<{ rooms: Array<{ name: string; numUsers: number; unread?: number }> }> {
    const counts = await this.presenceCall(() => this.presence.counts(this.settings.rooms));
    return {
      rooms: this.settings.rooms.map(name => {
        const after = since?.[name];
        if (after === undefined) {
          return { name, numUsers: counts.get(name) ?? 0 };
        }
        const unread = (this.recent.get(name)?.order ?? []).filter(id => id > after).length;
        return { name, numUsers: counts.get(name) ?? 0, unread: Math.min(unread, UNREAD_MAX) };
      }),
    };
  }

  // ---- messages ----

  private async newMessage(ctx: ChatConnection, room: string, rawText: string): Promise<ChatMessage> {
    const username = this.requireMember(ctx, room);
    const text = rawText.trim();
    const length = [...text].length;
    if (length === 0 || length > LIMITS.textMax) {
      throw new ChatError('invalid_text', `a message has 1-${LIMITS.textMax} characters (${length} after trimming)`);
    }
    let wait: number;
    try {
      wait = await this.sendLimit.take(username);
    } catch (err) {
      throw new ChatError('unavailable', `sending is briefly unavailable (${(err as Error).message}); try again`);
    }
    if (wait > 0) {
      throw new ChatError('rate_limited',
        `at most ${this.settings.userMessagesPerSecond} messages a second per user (bursts of ${this.settings.userMessageBurst}); try again in ${wait} ms`,
        { retryAfterMs: wait });
    }
    const time = Date.now();
    const message: ChatMessage = { room, message: newMessageId(time), username, text, time };
    await this.messages.put(message);
    this.search?.add(message);
    this.server.metrics.count('ChatMessages');
    ctx.lastTypingAt = 0;
    this.publish(room, { type: 'new_message', ...message }, '', undefined, message.message);
    return message;
  }

  /**
   * Sends an event to a room's members on every server. The bus payload is a header line,
   * `<connection to skip> <count> <message id>`, then the frame's JSON, serialized here once; every server
   * writes those bytes, framed once, to its own members of the room.
   */
  private publish(room: string, event: ServerEvent, except = '', count?: number, messageId = ''): void {
    const payload = `${except} ${count ?? ''} ${messageId}\n${JSON.stringify(event)}`;
    this.track(this.bus.publish(roomChannel(room), payload).catch(err => {
      this.log.warn({ err: err.message, room, type: event.type }, 'event not published');
    }));
  }

  private relay(room: string, payload: Buffer): void {
    const { except, count, messageId, frame } = parsePayload(payload);
    if (!frame) {
      return;
    }
    if (messageId && !this.remember(room, messageId)) {
      return;
    }
    if (count) {
      this.told.set(room, Number(count));
    }
    const members = this.members.get(room);
    if (!members || members.size === 0) {
      return;
    }
    const joining = this.joining.get(room);
    const holding = joining !== undefined && joining.size > 0;
    if (holding) {
      for (const client of joining) {
        const buffer = client.context.joinBuffer;
        if (buffer && buffer.length < LIMITS.joinBufferEvents) {
          buffer.push(payload);
        }
      }
    }
    // The common case (no skip, nobody joining) needs no per-client check.
    const fresh = messageId !== '' && (this.joinedLately.get(room)?.size ?? 0) > 0;
    this.server.broadcast(frame, {
      binary: false,
      clients: members,
      filter: except || holding || fresh
        ? client => client.context.key !== except && client.context.joinBuffer === undefined && !(fresh && client.context.pageIds?.has(messageId))
        : undefined,
    });
  }

  /** Notes a relayed message id; false if it was relayed before. */
  private remember(room: string, messageId: string): boolean {
    let recent = this.recent.get(room);
    if (!recent) {
      recent = { ids: new Set(), order: [] };
      this.recent.set(room, recent);
    }
    if (recent.ids.has(messageId)) {
      return false;
    }
    recent.ids.add(messageId);
    // Ids mostly arrive in order: insert from the end to keep `order` sorted.
    let at = recent.order.length;
    while (at > 0 && recent.order[at - 1] > messageId) {
      at--;
    }
    recent.order.splice(at, 0, messageId);
    if (recent.order.length > RECENT_IDS) {
      recent.ids.delete(recent.order.shift()!);
    }
    return true;
  }

  /**
   * After the bus came back: whatever was published while this server was not subscribed never arrives,
   * so relay each room's messages stored since (a margin before) the last one relayed here, once each.
   */
  private async recover(): Promise<void> {
    await Promise.all(this.settings.rooms.map(async room => {
      const last = this.recent.get(room)?.order.at(-1);
      const since = (last ? Number(last.slice(0, 13)) : this.startedAt) - RECOVERY_MARGIN_MS;
      try {
        const missed = await this.messages.after(room, messageIdFloor(since), RECOVERY_LIMIT);
        for (const message of missed) {
          this.relay(room, Buffer.from(`  ${message.message}\n${JSON.stringify({ type: 'new_message', ...message } satisfies ServerEvent)}`));
        }
      } catch (err) {
        this.log.warn({ err: (err as Error).message, room }, 'messages missed during a bus outage not recovered');
      }
    }));
  }

  // ---- presence ----

  /**
   * Every third of the expiry window: extends this server's holders (those waiting out their grace period
   * too), prunes the expired (those of a server that died), and tells local members of a room whose count
   * changed.
   */
  private async refreshPresence(): Promise<void> {
    if (this.refreshing) {
      return;
    }
    this.refreshing = true;
    try {
      const mine = new Map<string, string[]>();
      for (const [room, users] of this.holders) {
        if (users.size > 0) {
          mine.set(room, [...users.keys()]);
        }
      }
      for (const key of this.leaving.keys()) {
        const [room, username] = key.split('\n');
        mine.set(room, [...(mine.get(room) ?? []), username]);
      }
      const counts = await this.presence.refresh(this.serverId, mine, this.settings.rooms);
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
    this.forget(client);
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
    return setOf(this.members, room);
  }

  private async presenceCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw new ChatError('unavailable', `presence is briefly unavailable (${(err as Error).message}); try again`);
    }
  }

  private async sessionCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw new ChatError('unavailable', `sessions are briefly unavailable (${(err as Error).message}); try again`);
    }
  }

  private track(work: Promise<unknown>): void {
    this.pending.add(work);
    work.then(() => this.pending.delete(work), () => this.pending.delete(work));
  }

  /**
   * Waits for presence updates and events still on their way (runs after the drain closed every client):
   * leaves wait out their grace period first, so users who reconnected elsewhere are not announced.
   */
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
    this.addressAttempts.close();
    this.connectionAttempts.close();
    this.sendLimit.close();
    this.sessions.close();
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

/** A room event from the bus: its header fields and the frame's JSON. */
function parsePayload(payload: Buffer): { except: string; count: string; messageId: string; frame?: Buffer } {
  const newline = payload.indexOf(10);
  if (newline < 0) {
    return { except: '', count: '', messageId: '' };
  }
  const [except = '', count = '', messageId = ''] = payload.subarray(0, newline).toString().split(' ');
  return { except, count, messageId, frame: payload.subarray(newline + 1) };
}

/** `length` random characters a-z, 0-9 (uniform: bytes of 252 and above are drawn again). */
function randomName(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let name = '';
  while (name.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 252 && name.length < length) {
        name += alphabet[byte % 36];
      }
    }
  }
  return name;
}

function setOf<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}
