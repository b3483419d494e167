import { WebSocket } from 'ws';
import { digitsAt, mulberry32 } from '../fanout/loadgen';
import { cpuSeconds, machineCpuSeconds, rssMiB } from '../lib/procs';
import { percentile } from '../lib/stats';

/**
 * Request ids of bench messages are `SEQ_BASE + seq`, where seq indexes the arrays below; the setup
 * requests (log-in, join) use ids below it.
 */
const SEQ_BASE = 1000;
/** Frames the receive path reads as bytes, without decoding or parsing them. */
const NEW_MESSAGE = Buffer.from('{"type":"new_message",');
const ACK = Buffer.from('{"type":"ack","id":');
const TEXT = Buffer.from('"text":"bench ');
const TEXT_PATTERN = /^bench (\d+) /;

export interface ChatLoadOptions {
  readonly ports: number[];
  readonly clients: number;
  readonly rooms: readonly string[];
  readonly senders: number;
  /** How many bench messages the whole run sends at most (sizes the arrays). */
  readonly capacity: number;
}

export interface ChatStep {
  /** Offered messages a second (all senders together). */
  readonly rate: number;
  readonly sent: number;
  /** Messages acknowledged (stored and published) within the step and its settle time. */
  readonly accepted: number;
  /** Messages answered with an error frame. */
  readonly refused: number;
  /** Messages with neither an ack nor an error by the end of the settle time. */
  readonly unanswered: number;
  /** Accepted messages a second: over the step, or until the last ack of its messages arrived if later. */
  readonly acceptedPerSecond: number;
  /** Deliveries a second: over the step, or until the last delivery of its messages arrived if later. */
  readonly deliveriesPerSecond: number;
  /** Deliveries the accepted messages owe (each to every member of its room, the sender too). */
  readonly expectedDeliveries: number;
  readonly deliveries: number;
  /** Expected deliveries that had not arrived by the end of the settle time. */
  readonly lost: number;
  /** Deliveries of a message to a member that had it already. */
  readonly duplicates: number;
  readonly ackP50Ms: number;
  readonly ackP99Ms: number;
  readonly deliveryP50Ms: number;
  readonly deliveryP99Ms: number;
  /** Error frames received in the step, by code (those without an id too, e.g. the kit's rate_limited). */
  readonly errors: Record<string, number>;
  /** Frames of a room a client did not join, received in the step (must stay 0). */
  readonly isolationViolations: number;
  /** CPU of each process in the step, and of all other processes on the machine, % of one core. */
  readonly cpuPercent: Record<string, number>;
  readonly rssMiB: Record<string, number>;
}

interface Connection {
  readonly ws: WebSocket;
  readonly room: number;
  readonly pending: Map<number, { resolve(result: unknown): void; reject(err: Error): void }>;
}

function startsWith(data: Buffer, prefix: Buffer): boolean {
  return data.length >= prefix.length && data.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/**
 * N chat connections in one process, each logged in anonymously and in one room (the rooms take turns, the
 * servers alternate, so every room has members on both servers); the first `senders` of them send. Sends
 * and receives speak PROTOCOL.md directly over `ws` (the tests' ChatClient parses every frame as JSON;
 * with a hundred deliveries per message that would be most of this process's CPU on 2 cores): acks and
 * `new_message` frames are read as bytes, anything else is parsed. Every message's text is
 * `bench <seq> t=<ms>`; its seq indexes preallocated arrays of send times, rooms and delivery counts.
 */
export class ChatLoad {
  private readonly connections: Connection[] = [];
  /** Members of each room (index into `rooms`). */
  public readonly roomSize: Uint32Array;
  private readonly sentAt: Float64Array;
  private readonly roomOf: Uint8Array;
  /** 0 no answer yet, 1 acked, 2 refused. */
  private readonly status: Uint8Array;
  private readonly deliveredTo: Uint16Array;
  private next = 0;
  // The step in progress: messages [first, end).
  private first = 0;
  private end = 0;
  private ackLatencies = new Float64Array(0);
  private acks = 0;
  private refused = 0;
  private deliveryLatencies = new Float64Array(0);
  private deliveries = 0;
  private lastAckAt = 0;
  private lastDeliveryAt = 0;
  private errors: Record<string, number> = {};
  private violations = 0;
  /** Over the whole run. */
  public totalViolations = 0;
  /** Deliveries of messages of an earlier step (after its settle time), over the whole run. */
  public lateDeliveries = 0;

  constructor(private readonly options: ChatLoadOptions) {
    this.roomSize = new Uint32Array(options.rooms.length);
    this.sentAt = new Float64Array(options.capacity);
    this.roomOf = new Uint8Array(options.capacity);
    this.status = new Uint8Array(options.capacity);
    this.deliveredTo = new Uint16Array(options.capacity);
  }

  /** The room of client i: pairs of clients (one per server) take the rooms in turn. */
  public roomOfClient(i: number): number {
    return Math.floor(i / this.options.ports.length) % this.options.rooms.length;
  }

  /** Opens, logs in and joins every client, `batch` at a time. */
  public async connect(batch = 50): Promise<void> {
    for (let i = 0; i < this.options.clients; i += batch) {
      const opened = await Promise.all(Array.from({ length: Math.min(batch, this.options.clients - i) }, (_, j) => this.open(i + j)));
      this.connections.push(...opened);
    }
  }

  public close(): void {
    this.connections.forEach(c => c.ws.terminate());
  }

  /**
   * Offers `rate` messages a second for `seconds` (Poisson arrivals, seeded by the rate, handed to the
   * senders in turn), waits up to `settleMs` for the last acks and deliveries, and measures.
   */
  public async step(rate: number, seconds: number, settleMs: number,
    pids: Record<string, number>, rssPids: Record<string, number>): Promise<ChatStep> {
    const total = Math.round(rate * seconds);
    if (this.next + total > this.sentAt.length) {
      throw new Error(`the run sends more than the ${this.sentAt.length} messages it was sized for`);
    }
    const senders = this.connections.slice(0, this.options.senders);
    this.first = this.next;
    this.end = this.next + total;
    this.next = this.end;
    const maxRoom = Math.max(...this.roomSize);
    this.ackLatencies = new Float64Array(total);
    this.deliveryLatencies = new Float64Array(total * maxRoom);
    this.acks = 0;
    this.refused = 0;
    this.deliveries = 0;
    this.errors = {};
    this.violations = 0;
    // Poisson arrivals (many independent people typing) conditioned on exactly `total` in the step: sorted
    // uniform times, the same seeded sequence in every run, so the offered rate is exactly `rate`.
    const random = mulberry32(rate);
    const at = Float64Array.from({ length: total }, () => random() * seconds * 1000).sort();
    const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
    const machineBefore = machineCpuSeconds();
    const started = performance.now();
    this.lastAckAt = started;
    this.lastDeliveryAt = started;
    let sent = 0;
    await new Promise<void>(resolve => {
      const timer = setInterval(() => {
        const elapsed = performance.now() - started;
        while (sent < total && at[sent] <= elapsed) {
          const seq = this.first + sent;
          const sender = senders[sent % senders.length];
          const now = performance.now();
          this.sentAt[seq] = now;
          this.roomOf[seq] = sender.room;
          const room = this.options.rooms[sender.room];
          sender.ws.send(`{"type":"new_message","id":${SEQ_BASE + seq},"room":"${room}","text":"bench ${seq} t=${now.toFixed(1)}"}`);
          sent++;
        }
        if (sent >= total) {
          clearInterval(timer);
          resolve();
        }
      }, 2);
    });
    const sendMs = performance.now() - started;
    const deadline = performance.now() + settleMs;
    while (performance.now() < deadline && !(this.acks + this.refused === total && this.deliveries >= this.expected())) {
      await new Promise(r => setTimeout(r, 20));
    }
    const wall = (performance.now() - started) / 1000;
    const cpuPercent = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, ((cpuSeconds(pid) - cpuBefore[k]) / wall) * 100]));
    // Whatever else ran on the machine meanwhile (other tests, builds): it takes cores from the benchmark.
    const ours = Object.values(cpuPercent).reduce((a, b) => a + b, 0);
    cpuPercent['other processes'] = Math.max(0, ((machineCpuSeconds() - machineBefore) / wall) * 100 - ours);
    let expected = 0;
    let lost = 0;
    let duplicates = 0;
    for (let seq = this.first; seq < this.end; seq++) {
      const members = this.roomSize[this.roomOf[seq]];
      if (this.status[seq] === 1) {
        expected += members;
        lost += Math.max(0, members - this.deliveredTo[seq]);
      }
      duplicates += Math.max(0, this.deliveredTo[seq] - members);
    }
    const acks = this.ackLatencies.subarray(0, this.acks);
    const deliveries = this.deliveryLatencies.subarray(0, this.deliveries);
    const step: ChatStep = {
      rate,
      sent: total,
      accepted: this.acks,
      refused: this.refused,
      unanswered: total - this.acks - this.refused,
      acceptedPerSecond: this.acks / (Math.max(sendMs, this.lastAckAt - started) / 1000),
      deliveriesPerSecond: this.deliveries / (Math.max(sendMs, this.lastDeliveryAt - started) / 1000),
      expectedDeliveries: expected,
      deliveries: this.deliveries,
      lost,
      duplicates,
      ackP50Ms: percentile(acks, 50),
      ackP99Ms: percentile(acks, 99),
      deliveryP50Ms: percentile(deliveries, 50),
      deliveryP99Ms: percentile(deliveries, 99),
      errors: this.errors,
      isolationViolations: this.violations,
      cpuPercent,
      rssMiB: Object.fromEntries(Object.entries(rssPids).map(([k, pid]) => [k, rssMiB(pid)])),
    };
    // Free the step's arrays before the next one allocates its own.
    this.ackLatencies = new Float64Array(0);
    this.deliveryLatencies = new Float64Array(0);
    return step;
  }

  /** Deliveries the step's acked messages owe so far. */
  private expected(): number {
    let n = 0;
    for (let seq = this.first; seq < this.end; seq++) {
      if (this.status[seq] === 1) {
        n += this.roomSize[this.roomOf[seq]];
      }
    }
    return n;
  }

  private open(index: number): Promise<Connection> {
    const room = this.roomOfClient(index);
    const port = this.options.ports[index % this.options.ports.length];
    return new Promise((resolve, reject) => {
      // The server's frames are JSON we read as bytes; skipping UTF-8 validation keeps the generator lean.
      // Each simulated person comes from an address of its own, as the load balancer (one trusted proxy)
      // reports it, so the per-address log-in limit applies as in production.
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
        perMessageDeflate: false,
        skipUTF8Validation: true,
        headers: { 'x-forwarded-for': `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}` },
      });
      const connection: Connection = { ws, room, pending: new Map() };
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode} on upgrade`)));
      ws.on('message', data => this.receive(connection, data as Buffer));
      ws.once('open', () => {
        this.request(connection, 1, { type: 'anonymous_user' })
          .then(() => this.request(connection, 2, { type: 'join_room', room: this.options.rooms[room] }))
          .then(() => {
            this.roomSize[room]++;
            resolve(connection);
          }, reject);
      });
    });
  }

  private request(connection: Connection, id: number, frame: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${frame.type}: no answer within 10 s`)), 10_000);
      connection.pending.set(id, {
        resolve: result => { clearTimeout(timer); resolve(result); },
        reject: err => { clearTimeout(timer); reject(err); },
      });
      connection.ws.send(JSON.stringify({ ...frame, id }));
    });
  }

  private receive(connection: Connection, data: Buffer): void {
    const now = performance.now();
    if (startsWith(data, NEW_MESSAGE)) {
      const at = data.indexOf(TEXT, NEW_MESSAGE.length);
      if (at >= 0) {
        this.delivered(connection, digitsAt(data, at + TEXT.length), now);
        return;
      }
    } else if (startsWith(data, ACK)) {
      this.answered(connection, digitsAt(data, ACK.length), true, now);
      return;
    }
    // Anything else (errors, presence, joins, or a frame laid out differently than the fast paths expect).
    const event = JSON.parse(data.toString('utf8')) as { type: string; id?: number; code?: string; message?: string; room?: string; text?: string };
    if (event.type === 'new_message' && typeof event.text === 'string' && TEXT_PATTERN.test(event.text)) {
      this.delivered(connection, Number(TEXT_PATTERN.exec(event.text)![1]), now);
      return;
    }
    if (event.type === 'ack' && event.id !== undefined) {
      this.answered(connection, event.id, true, now);
      return;
    }
    if (event.type === 'error') {
      const code = event.code ?? 'unknown';
      this.errors[code] = (this.errors[code] ?? 0) + 1;
      if (event.id !== undefined) {
        this.answered(connection, event.id, false, now, `${code}: ${event.message}`);
      }
      return;
    }
    if (event.room !== undefined && event.room !== this.options.rooms[connection.room]) {
      this.violation();
    }
  }

  private answered(connection: Connection, id: number, ok: boolean, now: number, error?: string): void {
    const pending = connection.pending.get(id);
    if (pending) {
      connection.pending.delete(id);
      if (ok) {
        pending.resolve(undefined);
      } else {
        pending.reject(new Error(error));
      }
      return;
    }
    const seq = id - SEQ_BASE;
    if (seq < 0 || seq >= this.next || this.status[seq] !== 0) {
      return;
    }
    this.status[seq] = ok ? 1 : 2;
    if (seq >= this.first && seq < this.end) {
      if (ok) {
        this.ackLatencies[this.acks++] = now - this.sentAt[seq];
      } else {
        this.refused++;
      }
      this.lastAckAt = now;
    }
  }

  private delivered(connection: Connection, seq: number, now: number): void {
    if (seq < 0 || seq >= this.next) {
      return;
    }
    if (this.roomOf[seq] !== connection.room) {
      this.violation();
      return;
    }
    this.deliveredTo[seq]++;
    if (seq >= this.first && seq < this.end) {
      this.deliveryLatencies[this.deliveries++] = now - this.sentAt[seq];
      this.lastDeliveryAt = now;
    } else {
      this.lateDeliveries++;
    }
  }

  private violation(): void {
    this.violations++;
    this.totalViolations++;
  }
}
