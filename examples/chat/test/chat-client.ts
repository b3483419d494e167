import { WebSocket } from 'ws';
import type { ChatMessage, JoinResult, ServerEvent, Session } from '../server/protocol';

/** An error frame that answered a request. */
export class ChatRequestError extends Error {
  constructor(public readonly code: string, message: string, public readonly frame: Record<string, unknown>) {
    super(`${code}: ${message}`);
  }
}

export interface ChatClientOptions {
  /** Keep every pushed event in `events` (tests); a benchmark with many clients turns this off and uses `on`. @default true */
  readonly record?: boolean;
  /** How long a request waits for its ack. @default 10 s */
  readonly requestTimeoutMs?: number;
  /** Headers of the upgrade request, e.g. `x-forwarded-for` as a trusted proxy would add it. */
  readonly headers?: Record<string, string>;
}

type Pushed = Exclude<ServerEvent, { type: 'ack' }>;

interface PendingRequest {
  readonly timer: NodeJS.Timeout;
  resolve(result: unknown): void;
  reject(err: Error): void;
}

/**
 * One chat WebSocket connection speaking PROTOCOL.md: requests with ids resolve with their ack's result
 * or reject with a ChatRequestError; everything else the server pushes (presence, messages, typing, error
 * frames without an id) lands in `events` and goes to `on` handlers. Used by the tests, and by the
 * benchmark for many clients at once.
 */
export class ChatClient {
  /** Opens `ws://127.0.0.1:<port>/ws` (or `url`) and resolves once it is open. */
  public static connect(portOrUrl: number | string, options: ChatClientOptions = {}): Promise<ChatClient> {
    const url = typeof portOrUrl === 'number' ? `ws://127.0.0.1:${portOrUrl}/ws` : portOrUrl;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: options.headers });
      const client = new ChatClient(ws, options);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode} on upgrade`)));
    });
  }

  public readonly events: Pushed[] = [];
  public readonly closed: Promise<{ code: number; reason: string }>;
  public username?: string;
  public token?: string;
  private nextId = 1;
  private readonly requests = new Map<number, PendingRequest>();
  private readonly handlers = new Map<string, Array<(event: Pushed) => void>>();
  private waiters: Array<() => void> = [];
  private readonly record: boolean;
  private readonly requestTimeoutMs: number;

  private constructor(public readonly ws: WebSocket, options: ChatClientOptions) {
    this.record = options.record ?? true;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    ws.on('message', data => this.receive(JSON.parse(data.toString()) as ServerEvent));
    this.closed = new Promise(resolve => ws.once('close', (code, reason) => {
      for (const [, pending] of this.requests) {
        clearTimeout(pending.timer);
        pending.reject(new Error(`connection closed (${code})`));
      }
      this.requests.clear();
      this.waiters.splice(0).forEach(w => w());
      resolve({ code, reason: reason.toString() });
    }));
  }

  /** Sends a request and resolves with the `result` of its ack. */
  public request<T = unknown>(type: string, fields: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(id);
        reject(new Error(`${type} #${id}: no answer within ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
      this.requests.set(id, { resolve: resolve as (r: unknown) => void, reject, timer });
      this.ws.send(JSON.stringify({ type, id, ...fields }));
    });
  }

  /** Sends a frame as it is (for fire-and-forget events and bad input). */
  public send(frame: string | Record<string, unknown>): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  public async register(username: string, password: string): Promise<Session> {
    return this.loggedIn(await this.request<Session>('create_user', { username, password }));
  }

  public async login(username: string, password: string): Promise<Session> {
    return this.loggedIn(await this.request<Session>('authenticate_user', { username, password }));
  }

  public async anonymous(): Promise<Session> {
    return this.loggedIn(await this.request<Session>('anonymous_user'));
  }

  public async resume(token: string): Promise<Session> {
    return this.loggedIn(await this.request<Session>('resume_session', { token }));
  }

  public rooms(): Promise<{ rooms: Array<{ name: string; numUsers: number }> }> {
    return this.request('room_list');
  }

  /** Joins the room; the ack carries its count and newest history page. */
  public join(room: string): Promise<JoinResult> {
    return this.request('join_room', { room });
  }

  public logOut(everywhere = false): Promise<{ everywhere: boolean }> {
    return this.request('log_out', everywhere ? { everywhere } : {});
  }

  public members(room: string): Promise<{ room: string; numUsers: number; usernames: string[] }> {
    return this.request('room_members', { room });
  }

  public say(room: string, text: string): Promise<ChatMessage> {
    return this.request('new_message', { room, text });
  }

  public history(room: string, cursor?: string): Promise<{ room: string; messages: ChatMessage[]; next?: string }> {
    return this.request('message_list', cursor === undefined ? { room } : { room, cursor });
  }

  public typing(room: string): void {
    this.send({ type: 'typing', room });
  }

  public stopTyping(room: string): void {
    this.send({ type: 'stop_typing', room });
  }

  /** Calls `handler` for every pushed event of `type` ('*' for all). */
  public on(type: Pushed['type'] | '*', handler: (event: Pushed) => void): void {
    const list = this.handlers.get(type) ?? [];
    list.push(handler);
    this.handlers.set(type, list);
  }

  /** The index the next recorded event will have: pass it to `waitFor` to look only at later events. */
  public mark(): number {
    return this.events.length;
  }

  /** Resolves with the first recorded event from index `from` on that matches, or rejects after `timeoutMs`. */
  public async waitFor(match: (event: Pushed) => boolean, timeoutMs = 5000, from = 0): Promise<Pushed> {
    const deadline = Date.now() + timeoutMs;
    let checked = from;
    for (;;) {
      for (; checked < this.events.length; checked++) {
        if (match(this.events[checked])) {
          return this.events[checked];
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(this.events.slice(from)).slice(0, 2000)}`);
      }
      if (this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(`the connection closed while waiting; got ${JSON.stringify(this.events.slice(from)).slice(0, 2000)}`);
      }
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  public close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }

  private loggedIn(session: Session): Session {
    this.username = session.username;
    this.token = session.token;
    return session;
  }

  private receive(event: ServerEvent): void {
    if ((event.type === 'ack' || event.type === 'error') && event.id !== undefined && this.requests.has(event.id)) {
      const pending = this.requests.get(event.id)!;
      this.requests.delete(event.id);
      clearTimeout(pending.timer);
      if (event.type === 'ack') {
        pending.resolve(event.result);
      } else {
        pending.reject(new ChatRequestError(event.code, event.message, event as unknown as Record<string, unknown>));
      }
      return;
    }
    if (event.type === 'ack') {
      return;
    }
    if (this.record) {
      this.events.push(event);
      this.waiters.splice(0).forEach(w => w());
    }
    for (const handler of [...(this.handlers.get(event.type) ?? []), ...(this.handlers.get('*') ?? [])]) {
      handler(event);
    }
  }
}
