import { WebSocket } from 'ws';
import type { Question } from '../../examples/quiz/server/protocol';

/** Sign-on over HTTP, from the address `from` (sent as X-Forwarded-For; the server trusts one proxy). */
async function post<T>(port: number, path: string, body: unknown, from: string, token?: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': from, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const data = await res.json() as T;
  if (!res.ok) {
    throw new Error(`${path}: ${res.status} ${JSON.stringify(data)}`);
  }
  return data;
}

export interface Participant {
  readonly ws: WebSocket;
  /** Server time of each accepted answer. */
  readonly answeredAt: number[];
  /** (updatedAt, received) of each LEADERBOARD frame, in arrival order. */
  readonly boards: Array<[number, number]>;
  errors: Record<string, number>;
  done: boolean;
}

/**
 * Participants that answer every question as fast as the server allows: a participant asks for its
 * question and answers it at once (two messages), pacing itself to the per-connection message rate.
 */
export class QuizLoad {
  public readonly participants: Participant[] = [];
  private hostWs?: WebSocket;

  constructor(private readonly ports: number[], private readonly questions: Question[], private readonly messagesPerSecond: number) {}

  /** Host signs on and uploads on the first server; `count` participants join and connect, alternating servers. */
  public async setUp(count: number): Promise<{ quizId: string; hostToken: string }> {
    const host = await post<{ quizId: string; token: string }>(this.ports[0], '/api/sign-on/host', {}, '192.0.2.1');
    await post(this.ports[0], '/api/upload/quiz', this.questions, '192.0.2.1', host.token);
    for (let batch = 0; batch < count; batch += 50) {
      await Promise.all(Array.from({ length: Math.min(50, count - batch) }, async (_, i) => {
        const k = batch + i;
        const port = this.ports[k % this.ports.length];
        // Each simulated participant has its own address, as behind CloudFront and the load balancer.
        const address = `10.${(k >> 8) & 255}.${k & 255}.1`;
        const joined = await post<{ token: string }>(port, `/api/sign-on/${host.quizId}/join`, { name: `p${k}` }, address);
        this.participants[k] = await this.connect(port, joined.token, address);
      }));
    }
    this.hostWs = await open(`ws://127.0.0.1:${this.ports[0]}/ws?token=${encodeURIComponent(host.token)}`, '192.0.2.1');
    return { quizId: host.quizId, hostToken: host.token };
  }

  /** Starts the quiz and resolves when every participant has answered every question (or `timeoutMs` passed). */
  public async run(durationSeconds: number, timeoutMs: number): Promise<{ startedAt: number; endedAt: number }> {
    const started = new Promise<void>(resolve => {
      this.hostWs!.on('message', data => {
        if (JSON.parse(data.toString()).type === 'BROADCAST-START') {
          resolve();
        }
      });
    });
    this.hostWs!.send(JSON.stringify({
      type: 'HOST-CONFIG',
      payload: { quizName: 'Bench', categories: [...new Set(this.questions.map(q => q.category))], duration: durationSeconds, selectedQuestionIndexes: this.questions.map((_, i) => i) },
    }));
    await started;
    const startedAt = performance.now();
    const gapMs = 1000 / this.messagesPerSecond;
    await Promise.race([
      Promise.all(this.participants.map(p => this.play(p, gapMs))),
      new Promise(r => setTimeout(r, timeoutMs)),
    ]);
    return { startedAt, endedAt: performance.now() };
  }

  public close(): void {
    for (const p of this.participants) {
      p?.ws.terminate();
    }
    this.hostWs?.terminate();
  }

  private async connect(port: number, token: string, address: string): Promise<Participant> {
    const ws = await open(`ws://127.0.0.1:${port}/ws?token=${encodeURIComponent(token)}`, address);
    const p: Participant = { ws, answeredAt: [], boards: [], errors: {}, done: false };
    ws.on('message', data => {
      const text = data.toString();
      // Cheap check first: most frames are answers and leaderboards.
      if (text.startsWith('{"type":"LEADERBOARD"')) {
        p.boards.push([JSON.parse(text).payload.updatedAt, Date.now()]);
      }
    });
    return p;
  }

  /**
   * Ask, then answer at once when the question arrives, for every question; one message at most every
   * `gapMs` (the server's per-connection rate). A refused message is sent again after the gap.
   */
  private play(p: Participant, gapMs: number): Promise<void> {
    return new Promise(resolve => {
      let index = 0;
      let lastSent = 0;
      const send = (message: string) => {
        const wait = lastSent + gapMs - performance.now();
        lastSent = Math.max(performance.now(), lastSent + gapMs);
        setTimeout(() => p.ws.send(message), Math.max(0, wait));
      };
      const ask = () => {
        if (index >= this.questions.length) {
          p.done = true;
          resolve();
          return;
        }
        send(`{"type":"REQUEST-PARTICIPANT-QUESTION","payload":{"questionIndex":${index}}}`);
      };
      p.ws.on('message', data => {
        const text = data.toString();
        if (text.startsWith('{"type":"RESPONSE-PARTICIPANT-QUESTION"')) {
          send(JSON.stringify({ type: 'PARTICIPANT-ANSWER', payload: { questionIndex: index, selectedOptionIndexes: this.questions[index].answers } }));
        } else if (text.startsWith('{"type":"RESPONSE-PARTICIPANT-ANSWER"')) {
          const payload = JSON.parse(text).payload;
          if (payload.outcome !== 'timeout') {
            p.answeredAt.push(payload.answeredAt);
          }
          index = payload.nextQuestionIndex;
          ask();
        } else if (text.startsWith('{"type":"error"')) {
          const frame = JSON.parse(text);
          p.errors[frame.code] = (p.errors[frame.code] ?? 0) + 1;
          if (typeof frame.currentQuestionIndex === 'number') {
            index = frame.currentQuestionIndex;
          }
          ask();
        }
      });
      ask();
    });
  }
}

function open(url: string, address: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { 'x-forwarded-for': address }, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}
