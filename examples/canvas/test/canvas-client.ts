import { WebSocket } from 'ws';
import { decodeFrame, Update } from '../server/protocol';

/** A test's view of one canvas server: HTTP calls and WebSocket watchers. */
export class CanvasClient {
  constructor(public readonly port: number) {}

  public get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  public async session(headers: Record<string, string> = {}): Promise<string> {
    const res = await fetch(`${this.base}/api/session`, { method: 'POST', headers });
    if (res.status !== 201) {
      throw new Error(`session: ${res.status} ${await res.text()}`);
    }
    return (await res.json()).token;
  }

  public place(
    token: string | undefined,
    body: unknown,
    init: { contentType?: string; raw?: string; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    return fetch(`${this.base}/api/pixel`, {
      method: 'PUT',
      headers: { 'content-type': init.contentType ?? 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...init.headers },
      body: init.raw ?? JSON.stringify(body),
    });
  }

  public async board(): Promise<{ seq: number; bytes: Buffer; etag: string | null }> {
    const res = await fetch(`${this.base}/api/board`);
    if (!res.ok) {
      throw new Error(`board: ${res.status}`);
    }
    return { seq: Number(res.headers.get('x-board-seq')), bytes: Buffer.from(await res.arrayBuffer()), etag: res.headers.get('etag') };
  }

  public watch(): Promise<Watcher> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${this.port}/ws`);
      const watcher = new Watcher(ws);
      ws.once('open', () => resolve(watcher));
      ws.once('error', reject);
    });
  }
}

/** A WebSocket client that decodes every update frame it receives. */
export class Watcher {
  public readonly updates: Update[] = [];
  public readonly closed: Promise<number>;
  private waiters: Array<() => void> = [];

  constructor(public readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        this.updates.push(...decodeFrame(data as Buffer));
        this.waiters.splice(0).forEach(w => w());
      }
    });
    this.closed = new Promise(resolve => ws.once('close', code => resolve(code)));
  }

  /** Resolves with the update of sequence `seq` once it arrived. */
  public async waitFor(seq: number, timeoutMs = 5000): Promise<Update> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.updates.find(u => u.seq === seq);
      if (found) {
        return found;
      }
      if (Date.now() > deadline) {
        throw new Error(`update ${seq} did not arrive within ${timeoutMs} ms (got ${this.updates.length})`);
      }
      await new Promise<void>(resolve => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }
}
