import { WebSocket } from 'ws';
import type { Question } from '../server/protocol';

/** A frame the server sent: `{ type, payload }`, or an error frame `{ type: 'error', code, message, ... }`. */
export interface Frame {
  readonly type: string;
  readonly payload?: any;
  readonly code?: string;
  readonly message?: string;
  readonly [key: string]: unknown;
}

/** An HTTP answer that was not 2xx. */
export class HttpFailure extends Error {
  constructor(
    public readonly status: number,
    public readonly body: { error: string; message: string; [key: string]: unknown },
    public readonly headers: Headers,
  ) {
    super(`${status} ${body.error}: ${body.message}`);
  }
}

interface CallOptions { method?: string; body?: unknown; token?: string; headers?: Record<string, string>; raw?: string }

async function call<T>(port: number, path: string, init: CallOptions = {}): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: init.method ?? 'POST',
    headers: {
      ...(init.body !== undefined || init.raw !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...init.headers,
    },
    body: init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
  });
  const body = await res.json();
  if (!res.ok) {
    throw new HttpFailure(res.status, body, res.headers);
  }
  return body as T;
}

export const api = {
  call,
  signOnHost: (port: number, headers?: Record<string, string>) => call<{ quizId: string; token: string }>(port, '/api/sign-on/host', { headers }),
  upload: (port: number, token: string, questions: Question[] | unknown, headers?: Record<string, string>) =>
    call<{ quizId: string; questions: number; categories: string[] }>(port, '/api/upload/quiz', { token, body: questions, headers }),
  join: (port: number, quizId: string, name: string, headers?: Record<string, string>) =>
    call<{ quizId: string; userId: string; name: string; token: string }>(port, `/api/sign-on/${quizId}/join`, { body: { name }, headers }),
};

/**
 * One quiz WebSocket connection: `send(type, payload)`, every frame kept in `frames`, `waitFor` a frame
 * that matches (from a mark on), and `closed` once it closes.
 */
export class QuizClient {
  public static connect(port: number, token: string, headers?: Record<string, string>): Promise<QuizClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${encodeURIComponent(token)}`, { headers });
      const client = new QuizClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', d => { body += d; });
        res.on('end', () => reject(new HttpFailure(res.statusCode ?? 0, JSON.parse(body || '{}'), new Headers(res.headers as Record<string, string>))));
      });
    });
  }

  public readonly frames: Frame[] = [];
  public readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<() => void> = [];

  private constructor(public readonly ws: WebSocket) {
    ws.on('message', data => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
      this.waiters.splice(0).forEach(w => w());
    });
    this.closed = new Promise(resolve => ws.once('close', (code, reason) => {
      this.waiters.splice(0).forEach(w => w());
      resolve({ code, reason: reason.toString() });
    }));
  }

  public send(type: string, payload?: unknown): void {
    this.ws.send(JSON.stringify(payload === undefined ? { type } : { type, payload }));
  }

  public mark(): number {
    return this.frames.length;
  }

  /** The first frame from index `from` on that matches, or a rejection after `timeoutMs`. */
  public async waitFor(match: (frame: Frame) => boolean, timeoutMs = 10_000, from = 0): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    let checked = from;
    for (;;) {
      for (; checked < this.frames.length; checked++) {
        if (match(this.frames[checked])) {
          return this.frames[checked];
        }
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(from).map(f => f.type === 'error' ? `error:${f.code}` : f.type))}`);
      }
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  /** Sends a message and waits for the next frame of `responseType` (or an error frame). */
  public async request(type: string, payload: unknown, responseType: string, timeoutMs = 10_000): Promise<Frame> {
    const from = this.mark();
    this.send(type, payload);
    return this.waitFor(f => f.type === responseType || f.type === 'error', timeoutMs, from);
  }

  public async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) {
      this.ws.close();
      await this.closed;
    }
  }
}

/** A question set of `n` questions in two categories; every third question has two correct options. */
export function sampleQuestions(n: number): Question[] {
  return Array.from({ length: n }, (_, i) => ({
    question: `Question number ${i + 1}?`,
    category: i % 2 === 0 ? 'science' : 'history',
    options: ['alpha', 'beta', 'gamma', 'delta'],
    answers: i % 3 === 2 ? [1, 3] : [i % 4],
  }));
}
