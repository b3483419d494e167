import { ChildProcess } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { ChatLoad, ChatStep } from './loadgen';
import { MESSAGES_TABLE_KEY, USERS_TABLE_KEY } from '../../examples/chat/server/tables';
import { formatTable } from '../../scripts/lib/table';
import { startRedis } from '../../test/support/redis-server';
import { spawnDynalite } from '../lib/dynalite-process';
import { cleanUpOnSignal, spawnTs, stop } from '../lib/procs';
import { round } from '../lib/stats';

export interface ChatBenchOptions {
  readonly clients: number;
  readonly rooms: number;
  /** Clients that send; the others only receive. @default - enough for at most 4 messages a second each */
  readonly senders?: number;
  /** Offered messages a second (all senders together), one step each. */
  readonly rates: number[];
  readonly stepSeconds: number;
  /** How long a step waits after its last send for the last acks and deliveries. */
  readonly settleMs: number;
  readonly p99LimitMs: number;
  /** The server entry point to run. @default this checkout's bench/chat/chat-server.ts */
  readonly serverEntry?: string;
  /** What the report calls this run. @default 'Chat' */
  readonly label?: string;
}

export interface ChatBenchResult {
  readonly options: ChatBenchOptions & { readonly senders: number; readonly roomNames: string[]; readonly membersPerRoom: number[] };
  readonly steps: ChatStep[];
  /** The step with the most accepted messages/s among those that pass (see `passes`). */
  readonly maxSustained?: ChatStep;
  /** Frames of a room its receiver had not joined, over the whole run (warm-up too); must be 0. */
  readonly isolationViolations: number;
  readonly bottleneck: string;
}

/**
 * The server's per-user limit (CHAT_USER_MESSAGES_PER_SECOND's default, across connections and servers): 5
 * messages a second, bursts of 20; more get `rate_limited`. Each sender is its own anonymous user and offers
 * at most 4 a second (Poisson arrivals use the burst now and then).
 */
const PER_USER_LIMIT = 5;
const PER_SENDER_TARGET = 4;
const SERVER_ENTRY = path.join(__dirname, 'chat-server.ts');

/**
 * Two chat server processes on one redis-server and a DynamoDB-API store (dynalite, own process), all on
 * 127.0.0.1; N anonymous clients in R rooms, half of each room on each server; some of them send at a
 * stepped total rate. Every message is stored (DynamoDB put), acked, and fanned out over the bus to its
 * room's members on both servers. The load generator runs in this process.
 */
export async function runChatBench(options: ChatBenchOptions, log: (line: string) => void): Promise<ChatBenchResult> {
  const maxRate = Math.max(...options.rates);
  const pairs = 2 * options.rooms;
  // The first `senders` clients send: a multiple of 2 × rooms, so every room has as many on each server.
  const senders = Math.min(options.clients, options.senders
    ?? Math.ceil(Math.max(options.clients / 10, maxRate / PER_SENDER_TARGET) / pairs) * pairs);
  const roomNames = Array.from({ length: options.rooms }, (_, i) => `room-${i}`);
  console.log(`\n${options.label ?? 'Chat'}: 2 server processes + redis-server + dynalite; ${options.clients} anonymous clients in ${options.rooms} rooms `
    + `(half of each room on each server); ${senders} of them send, up to ${round(maxRate / senders)} msg/s each `
    + `(server limit ${PER_USER_LIMIT}/s per user)`);
  if (maxRate / senders > PER_SENDER_TARGET) {
    log(`warning: ${round(maxRate / senders)} msg/s per sender is near the server's per-user limit of ${PER_USER_LIMIT}/s; set BENCH_CHAT_SENDERS higher`);
  }
  const stoppers: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    while (stoppers.length > 0) {
      await stoppers.pop()!().catch(() => undefined);
    }
  };
  const removeSignalHandlers = cleanUpOnSignal(stopAll);
  try {
    const redis = await startRedis({ password: 'bench' });
    stoppers.push(() => redis.stop());
    // The SDK's notice that later versions need Node 22 would print once per process.
    const quiet = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    const dynamo = spawnDynalite({ users: USERS_TABLE_KEY, messages: MESSAGES_TABLE_KEY }, quiet);
    stoppers.push(() => stop(dynamo));
    const endpoint = await reported<string>(dynamo, 'endpoint', 'dynalite');
    const env = {
      ...quiet,
      PORT: '0',
      REALTIME_BUS_URL: redis.url,
      REALTIME_BUS_AUTH: 'bench',
      DYNAMODB_ENDPOINT: endpoint,
      CHAT_USERS_TABLE: 'users',
      CHAT_MESSAGES_TABLE: 'messages',
      CHAT_SESSION_SECRET: 'chat-benchmark-session-secret',
      CHAT_ROOMS: roomNames.join(','),
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      REALTIME_DRAIN_SECONDS: '0',
    };
    const servers = [0, 1].map(() => spawnTs(options.serverEntry ?? SERVER_ENTRY, env, { dropMetricLines: true }));
    servers.forEach(s => stoppers.push(() => stop(s)));
    const ports = await Promise.all(servers.map(s => reported<number>(s, 'port', 'chat server')));
    const pids: Record<string, number> = {
      'chat server 1': servers[0].pid!,
      'chat server 2': servers[1].pid!,
      'redis-server': redis.pid,
      'dynalite': dynamo.pid!,
      'load generator': process.pid,
    };
    const rssPids = { 'chat server 1': servers[0].pid!, 'chat server 2': servers[1].pid!, 'redis-server': redis.pid, 'dynalite': dynamo.pid! };
    const warmup = { rate: 100, seconds: 3 };
    const load = new ChatLoad({
      ports,
      clients: options.clients,
      rooms: roomNames,
      senders,
      capacity: warmup.rate * warmup.seconds + options.rates.reduce((sum, rate) => sum + Math.round(rate * options.stepSeconds), 0),
    });
    stoppers.push(async () => load.close());
    const connectStarted = performance.now();
    await load.connect();
    log(`${options.clients} clients connected, logged in and joined in ${round((performance.now() - connectStarted) / 1000)} s; `
      + `members per room: ${[...new Set(load.roomSize)].join('/')}`);
    // Warm-up (JIT, connections to dynalite and Redis); not reported.
    await load.step(warmup.rate, warmup.seconds, 3000, pids, rssPids);
    const steps: ChatStep[] = [];
    let failures = 0;
    for (const rate of options.rates) {
      await new Promise(r => setTimeout(r, 1000));
      const step = await load.step(rate, options.stepSeconds, options.settleMs, pids, rssPids);
      steps.push(step);
      const ok = passes(step, options.p99LimitMs);
      const errors = Object.entries(step.errors).map(([code, n]) => `${code} ×${n}`).join(', ');
      log(`${rate} msg/s → ${Math.round(step.acceptedPerSecond)} accepted/s, ${Math.round(step.deliveriesPerSecond)} deliveries/s, `
        + `ack p99 ${round(step.ackP99Ms)} ms, delivery p99 ${round(step.deliveryP99Ms)} ms, lost ${step.lost}`
        + `${step.unanswered ? `, unanswered ${step.unanswered}` : ''}${errors ? `, errors ${errors}` : ''}`
        + `${step.isolationViolations ? `, OTHER-ROOM FRAMES ${step.isolationViolations}` : ''}, `
        + `CPU ${Object.entries(step.cpuPercent).map(([k, v]) => `${k} ${Math.round(v)}%`).join(', ')} ${ok ? '' : '✘'}`);
      failures = ok ? 0 : failures + 1;
      if (failures >= 2) {
        break;
      }
    }
    const maxSustained = steps.filter(s => passes(s, options.p99LimitMs)).sort((a, b) => b.acceptedPerSecond - a.acceptedPerSecond)[0];
    const last = steps[steps.length - 1];
    const { 'other processes': other, ...ours } = last.cpuPercent;
    const busiest = Object.entries(ours).sort((a, b) => b[1] - a[1])[0];
    const total = Object.values(last.cpuPercent).reduce((a, b) => a + b, 0);
    const bottleneck = `${busiest[0]} at ${Math.round(busiest[1])} % of one core in the ${last.rate} msg/s step; `
      + `the machine was ${Math.round(total)} % busy of ${os.cpus().length * 100} % (other processes ${Math.round(other)} %)`;
    const result: ChatBenchResult = {
      options: { ...options, senders, roomNames, membersPerRoom: Array.from(load.roomSize) },
      steps,
      maxSustained,
      isolationViolations: load.totalViolations,
      bottleneck,
    };
    printChat(result);
    return result;
  } finally {
    await stopAll();
    removeSignalHandlers();
  }
}

/**
 * Sustained: at least 97% of the offered messages accepted (acked) at the offered rate, every accepted
 * message delivered to every member of its room within the settle time, delivery p99 within the limit,
 * and no frame of another room.
 */
export function passes(step: ChatStep, p99LimitMs: number): boolean {
  return step.acceptedPerSecond >= step.rate * 0.97 && step.lost === 0 && step.deliveryP99Ms <= p99LimitMs && step.isolationViolations === 0;
}

function printChat(result: ChatBenchResult): void {
  const limit = result.options.p99LimitMs;
  const cpu = (s: ChatStep, k: string) => Math.round(s.cpuPercent[k]);
  console.log('\n' + formatTable(result.steps.map(s => ({
    'offered/s': s.rate,
    'accepted/s': Math.round(s.acceptedPerSecond),
    'deliveries/s': Math.round(s.deliveriesPerSecond),
    'lost': s.lost,
    'error frames': Object.values(s.errors).reduce((a, b) => a + b, 0),
    'unanswered': s.unanswered,
    'ack p50 ms': round(s.ackP50Ms),
    'ack p99 ms': round(s.ackP99Ms),
    'delivery p50 ms': round(s.deliveryP50Ms),
    'delivery p99 ms': round(s.deliveryP99Ms),
    'CPU % servers': `${cpu(s, 'chat server 1')} + ${cpu(s, 'chat server 2')}`,
    'redis %': cpu(s, 'redis-server'),
    'dynalite %': cpu(s, 'dynalite'),
    'loadgen %': cpu(s, 'load generator'),
    'other procs %': cpu(s, 'other processes'),
    'sustained': passes(s, limit) ? 'yes' : 'no',
  }))));
  const best = result.maxSustained;
  const members = result.options.membersPerRoom;
  console.log(`\n  max sustained (accepted ≥ 97% of offered, 0 lost, delivery p99 ≤ ${limit} ms): `
    + (best
      ? `${best.rate} msg/s offered → ${Math.round(best.acceptedPerSecond)} accepted/s, ${Math.round(best.deliveriesPerSecond)} deliveries/s `
        + `(${Math.min(...members)}-${Math.max(...members)} members per room), ack p99 ${round(best.ackP99Ms)} ms, delivery p99 ${round(best.deliveryP99Ms)} ms`
      : 'none'));
  console.log(`  room isolation: ${result.isolationViolations} frames of a room the receiver had not joined, over the whole run`);
  const last = result.steps[result.steps.length - 1];
  console.log(`  RSS MiB after the last step: ${Object.entries(last.rssMiB).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')}`);
  console.log(`  busiest process: ${result.bottleneck}`);
}

/** Resolves with the `key` a child process reports over IPC; rejects if it exits first. */
function reported<T>(proc: ChildProcess, key: string, name: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    proc.once('message', (m: any) => resolve(m[key]));
    proc.once('exit', code => reject(new Error(`${name} exited with ${code} before reporting its ${key}`)));
  });
}
