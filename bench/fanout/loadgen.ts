import { WebSocket } from 'ws';

/** How the load generator speaks to one kind of server; everything else is shared. */
export interface Protocol {
  readonly name: string;
  url(port: number): string;
  /** Resolves when the connection is ready to send and receive application messages. */
  ready(ws: WebSocket): Promise<void>;
  pub(d: string): string;
  /** The sequence number an application message carries, or -1 for protocol traffic (answered here). */
  seq(ws: WebSocket, data: Buffer): number;
}

/** Reads the decimal digits at `offset` without decoding the message to a string. */
export function digitsAt(data: Buffer, offset: number): number {
  let n = 0;
  for (let i = offset; i < data.length; i++) {
    const c = data[i] - 48;
    if (c < 0 || c > 9) {
      break;
    }
    n = n * 10 + c;
  }
  return n;
}

export const KIT: Protocol = {
  name: 'kit',
  url: port => `ws://127.0.0.1:${port}/ws`,
  ready: () => Promise.resolve(),
  pub: d => `{"type":"pub","d":"${d}"}`,
  // {"d":"<seq>:0"}
  seq: (_ws, data) => digitsAt(data, 6),
};

/** socket.io's engine.io v4 framing over a plain WebSocket: open '0', connect '40', event '42', ping '2'/pong '3'. */
export const SOCKET_IO: Protocol = {
  name: 'socket.io',
  url: port => `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`,
  ready: ws => new Promise(resolve => {
    const onMessage = (data: Buffer) => {
      const text = data.toString();
      if (text.startsWith('0{')) {
        ws.send('40');
      } else if (text.startsWith('40')) {
        ws.off('message', onMessage);
        resolve();
      }
    };
    ws.on('message', onMessage);
  }),
  pub: d => `42["pub","${d}"]`,
  seq: (ws, data) => {
    if (data.length === 1 && data[0] === 0x32) {
      ws.send('3');
      return -1;
    }
    // 42["msg","<seq>:0"]
    return data[0] === 0x34 && data[1] === 0x32 ? digitsAt(data, 10) : -1;
  },
};

/** A small seeded generator, so both systems see the same arrival times. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface StepResult {
  readonly rate: number;
  readonly sent: number;
  readonly expected: number;
  readonly delivered: number;
  readonly lost: number;
  readonly deliveriesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly loadgenCpuPercent: number;
  readonly serverCpuSeconds: number[];
}

/**
 * N WebSocket clients spread over the servers. One of them publishes at a fixed rate; every client
 * records when each message arrives. Kept lean (no JSON parsing, preallocated arrays) so that on a
 * 2-core machine it takes as little CPU from the servers as it can.
 */
export class LoadGenerator {
  private readonly sockets: WebSocket[] = [];
  private sendTimes = new Float64Array(0);
  private deliveries = new Uint32Array(0);
  private latencies = new Float64Array(0);
  private latencyCount = 0;
  private baseSeq = 0;

  constructor(private readonly protocol: Protocol, private readonly ports: number[], private readonly clients: number) {}

  public async connect(): Promise<void> {
    for (let i = 0; i < this.clients; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, this.clients - i) }, (_, j) => this.open(this.ports[(i + j) % this.ports.length])));
    }
  }

  public close(): void {
    this.sockets.forEach(ws => ws.terminate());
  }

  /** Publishes `rate` messages a second for `seconds`, waits `graceMs` for the last deliveries, and measures. */
  public async step(rate: number, seconds: number, graceMs: number, serverPids: number[], cpuOf: (pid: number) => number): Promise<StepResult> {
    const total = Math.round(rate * seconds);
    this.baseSeq += 1_000_000;
    this.sendTimes = new Float64Array(total);
    this.deliveries = new Uint32Array(total);
    this.latencies = new Float64Array(total * this.clients);
    this.latencyCount = 0;
    const sender = this.sockets[0];
    const cpuBefore = serverPids.map(cpuOf);
    const ownBefore = process.cpuUsage();
    // Messages leave at Poisson-distributed times (many independent publishers), the same seeded
    // sequence for every system.
    const random = mulberry32(rate);
    const at = new Float64Array(total);
    for (let i = 0, t = 0; i < total; i++) {
      t += (-Math.log(1 - random()) / rate) * 1000;
      at[i] = t;
    }
    const started = performance.now();
    let sent = 0;
    await new Promise<void>(resolve => {
      const timer = setInterval(() => {
        const elapsed = performance.now() - started;
        while (sent < total && at[sent] <= elapsed) {
          this.sendTimes[sent] = performance.now();
          sender.send(this.protocol.pub(`${this.baseSeq + sent}:0`));
          sent++;
        }
        if (sent >= total) {
          clearInterval(timer);
          resolve();
        }
      }, 2);
    });
    const sendSeconds = (performance.now() - started) / 1000;
    const expected = total * this.clients;
    const deadline = performance.now() + graceMs;
    while (this.latencyCount < expected && performance.now() < deadline) {
      await new Promise(r => setTimeout(r, 20));
    }
    const wall = (performance.now() - started) / 1000;
    const own = process.cpuUsage(ownBefore);
    const cpuAfter = serverPids.map(cpuOf);
    const lat = this.latencies.subarray(0, this.latencyCount).slice().sort();
    const pick = (p: number) => lat.length ? lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)] : NaN;
    return {
      rate,
      sent: total,
      expected,
      delivered: this.latencyCount,
      lost: expected - this.latencyCount,
      deliveriesPerSecond: this.latencyCount / sendSeconds,
      p50Ms: pick(50),
      p99Ms: pick(99),
      loadgenCpuPercent: ((own.user + own.system) / 1e6 / wall) * 100,
      serverCpuSeconds: cpuAfter.map((c, i) => c - cpuBefore[i]),
    };
  }

  private open(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      // Both systems' messages are ASCII we parse as bytes; skipping UTF-8 validation keeps the generator lean.
      const ws = new WebSocket(this.protocol.url(port), { perMessageDeflate: false, skipUTF8Validation: true });
      ws.once('error', reject);
      ws.once('open', () => {
        this.protocol.ready(ws).then(() => {
          ws.on('message', data => this.receive(ws, data as Buffer));
          this.sockets.push(ws);
          resolve();
        }, reject);
      });
    });
  }

  private receive(ws: WebSocket, data: Buffer): void {
    const seq = this.protocol.seq(ws, data);
    if (seq < 0) {
      return;
    }
    const now = performance.now();
    const index = seq - this.baseSeq;
    if (index >= 0 && index < this.sendTimes.length) {
      this.deliveries[index]++;
      this.latencies[this.latencyCount++] = now - this.sendTimes[index];
    }
  }
}
