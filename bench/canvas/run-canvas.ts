import * as path from 'path';
import { Pool } from 'undici';
import { WebSocket } from 'ws';
import { PLACEMENTS_TABLE_KEY } from '../../examples/canvas/server/table';
import { TokenSigner } from '../../examples/canvas/server/tokens';
import { formatTable } from '../../scripts/lib/table';
import { startRedis } from '../../test/support/redis-server';
import { spawnDynalite } from '../lib/dynalite-process';
import { cpuSeconds, startReporting, stop } from '../lib/procs';
import { percentile, round } from '../lib/stats';

export interface CanvasBenchOptions {
  readonly watchers: number;
  readonly rates: number[];
  readonly stepSeconds: number;
  /** The server entry point to run. @default this checkout's bench/canvas/canvas-server.ts */
  readonly serverEntry?: string;
  /** What the table calls this run. @default 'canvas' */
  readonly label?: string;
}

export interface CanvasStep {
  readonly rate: number;
  readonly attempted: number;
  readonly accepted: number;
  readonly failed: number;
  readonly acceptedPerSecond: number;
  readonly placementP50Ms: number;
  readonly placementP99Ms: number;
  readonly updateP50Ms: number;
  readonly updateP99Ms: number;
  /** Watchers that received every accepted placement. */
  readonly completeWatchers: number;
  readonly cpuPercent: Record<string, number>;
}

const SECRET = 'canvas-benchmark-signing-secret';
const WIDTH = 1000;

export interface CanvasBenchResult {
  options: CanvasBenchOptions;
  steps: CanvasStep[];
  best?: CanvasStep;
  bottleneck: string;
}

/**
 * One canvas server process with redis-server and a DynamoDB-API store (dynalite, own process); N
 * WebSocket watchers that must each receive every update; placements by distinct users on distinct
 * pixels at a fixed rate per step, each answered only once stored in DynamoDB.
 */
export async function runCanvasBench(options: CanvasBenchOptions, log: (line: string) => void): Promise<CanvasBenchResult> {
  console.log(`\n${options.label ?? 'Canvas'}: 1 server process + redis-server + dynalite; ${options.watchers} watchers; placements by distinct users`);
  const redis = await startRedis({ password: 'bench' });
  const dynamo = spawnDynalite({ placements: PLACEMENTS_TABLE_KEY });
  const endpoint = await new Promise<string>(resolve => dynamo.once('message', (m: any) => resolve(m.endpoint)));
  const server = await startReporting(options.serverEntry ?? path.join(__dirname, 'canvas-server.ts'), {
    PORT: '0',
    REALTIME_BUS_URL: redis.url,
    REALTIME_BUS_AUTH: 'bench',
    DYNAMODB_ENDPOINT: endpoint,
    CANVAS_TABLE: 'placements',
    CANVAS_TOKEN_SECRET: SECRET,
    CANVAS_COOLDOWN_SECONDS: '300',
    // Each simulated user comes from its own network (X-Forwarded-For behind one trusted proxy), so the
    // per-address placement limit applies as in production instead of counting the load generator once.
    CANVAS_TRUSTED_PROXIES: '1',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    REALTIME_DRAIN_SECONDS: '0',
    ...(process.env.BENCH_CANVAS_TICK_MS ? { CANVAS_TICK_MS: process.env.BENCH_CANVAS_TICK_MS } : {}),
  });
  const pids: Record<string, number> = { 'canvas server': server.proc.pid!, 'redis-server': redis.pid, 'dynalite': dynamo.pid!, 'load generator': process.pid };
  const watchers = await openWatchers(server.port, options.watchers);
  const pool = new Pool(`http://127.0.0.1:${server.port}`, { connections: 128, pipelining: 1 });
  const signer = new TokenSigner(SECRET);
  const steps: CanvasStep[] = [];
  let next = 0;
  try {
    // Warm-up (JIT, connections, the first DynamoDB batches); not reported.
    next += (await placementStep(pool, signer, watchers, 500, 3, next, pids)).attempted;
    for (const rate of options.rates) {
      const step = await placementStep(pool, signer, watchers, rate, options.stepSeconds, next, pids);
      next += step.attempted;
      steps.push(step);
      const ok = passes(step, options.watchers);
      log(`${rate}/s → ${Math.round(step.acceptedPerSecond)} accepted/s, placement p99 ${round(step.placementP99Ms)} ms, update p99 ${round(step.updateP99Ms)} ms, `
        + `${step.completeWatchers}/${options.watchers} watchers complete, CPU ${Object.entries(step.cpuPercent).map(([k, v]) => `${k} ${Math.round(v)}%`).join(', ')} ${ok ? '' : '✘'}`);
      if (!ok) {
        break;
      }
    }
  } finally {
    watchers.sockets.forEach(ws => ws.terminate());
    await pool.close();
    await stop(server.proc);
    await stop(dynamo);
    await redis.stop();
  }
  const best = steps.filter(s => passes(s, options.watchers)).sort((a, b) => b.acceptedPerSecond - a.acceptedPerSecond)[0];
  const last = steps[steps.length - 1];
  const busiest = Object.entries(last.cpuPercent).sort((a, b) => b[1] - a[1])[0];
  const bottleneck = `${busiest[0]} at ${Math.round(busiest[1])} % of one core in the ${last.rate}/s step (2 cores in all)`;
  console.log('\n' + formatTable(steps.map(s => ({
    'target/s': s.rate,
    'accepted/s': Math.round(s.acceptedPerSecond),
    'failed': s.failed,
    'placement p50 ms': round(s.placementP50Ms),
    'placement p99 ms': round(s.placementP99Ms),
    'update p50 ms': round(s.updateP50Ms),
    'update p99 ms': round(s.updateP99Ms),
    'watchers with every update': `${s.completeWatchers}/${options.watchers}`,
  }))));
  console.log(`\n  best: ${best ? Math.round(best.acceptedPerSecond) : 0} placements/s; busiest process: ${bottleneck}`);
  return { options, steps, best, bottleneck };
}

function passes(step: CanvasStep, watchers: number): boolean {
  return step.failed === 0 && step.completeWatchers === watchers && step.placementP99Ms <= 250 && step.acceptedPerSecond >= step.rate * 0.97;
}

interface Watchers {
  readonly sockets: WebSocket[];
  readonly counts: Uint32Array;
  /** Arrival times of updates at the probe watcher, by pixel index. */
  readonly arrivals: Map<number, number>;
}

async function openWatchers(port: number, n: number): Promise<Watchers> {
  const counts = new Uint32Array(n);
  const arrivals = new Map<number, number>();
  const sockets: WebSocket[] = [];
  for (let i = 0; i < n; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, n - i) }, (_, j) => new Promise<void>((resolve, reject) => {
      const index = i + j;
      // Each watcher from its own network, as in production, so the per-address connection limit applies.
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: false, headers: { 'x-forwarded-for': userNetwork(0xffffff - index) } });
      ws.once('error', reject);
      ws.once('open', () => { sockets.push(ws); resolve(); });
      ws.on('message', (data: Buffer) => {
        const count = data.readUInt16LE(1);
        counts[index] += count;
        if (index === 0) {
          const now = performance.now();
          for (let r = 0, o = 3; r < count; r++, o += 9) {
            arrivals.set(data.readUInt16LE(o + 6) * WIDTH + data.readUInt16LE(o + 4), now);
          }
        }
      });
    })));
  }
  return { sockets, counts, arrivals };
}

async function placementStep(agent: Pool, signer: TokenSigner, watchers: Watchers, rate: number, seconds: number,
  first: number, pids: Record<string, number>): Promise<CanvasStep> {
  const total = Math.round(rate * seconds);
  const tokens = Array.from({ length: total }, () => signer.issue().token);
  watchers.counts.fill(0);
  watchers.arrivals.clear();
  const sentAt = new Float64Array(total);
  const latencies: number[] = [];
  let accepted = 0;
  let failed = 0;
  const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  let sent = 0;
  await new Promise<void>(resolve => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
      while (sent < due) {
        const i = sent++;
        const pixel = (first + i) % (WIDTH * WIDTH);
        sentAt[i] = performance.now();
        inflight.push(put(agent, tokens[i], userNetwork(first + i), pixel % WIDTH, Math.floor(pixel / WIDTH), i % 16).then(status => {
          if (status === 200) {
            accepted++;
            latencies.push(performance.now() - sentAt[i]);
          } else {
            failed++;
          }
        }));
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  await Promise.all(inflight);
  const elapsed = (performance.now() - started) / 1000;
  const deadline = performance.now() + 3000;
  while (performance.now() < deadline && Array.from(watchers.counts).some(c => c < accepted)) {
    await new Promise(r => setTimeout(r, 50));
  }
  const wall = (performance.now() - started) / 1000;
  const cpuPercent = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, ((cpuSeconds(pid) - cpuBefore[k]) / wall) * 100]));
  const updateLatencies: number[] = [];
  for (let i = 0; i < total; i++) {
    const arrival = watchers.arrivals.get((first + i) % (WIDTH * WIDTH));
    if (arrival !== undefined) {
      updateLatencies.push(arrival - sentAt[i]);
    }
  }
  return {
    rate,
    attempted: total,
    accepted,
    failed,
    acceptedPerSecond: accepted / elapsed,
    placementP50Ms: percentile(latencies, 50),
    placementP99Ms: percentile(latencies, 99),
    updateP50Ms: percentile(updateLatencies, 50),
    updateP99Ms: percentile(updateLatencies, 99),
    completeWatchers: Array.from(watchers.counts).filter(c => c >= accepted).length,
    cpuPercent,
  };
}

/** A documentation-range IPv6 address in a /64 of its own for simulated user `n` (a header value only). */
function userNetwork(n: number): string {
  return `2001:db8:${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}::1`;
}

function put(pool: Pool, token: string, address: string, x: number, y: number, color: number): Promise<number> {
  return pool.request({
    path: '/api/pixel',
    method: 'PUT',
    headers: { 'content-type': 'application/json', 'authorization': `Bearer ${token}`, 'x-forwarded-for': address },
    body: `{"x":${x},"y":${y},"color":${color}}`,
  }).then(async res => {
    await res.body.dump();
    return res.statusCode;
  }, () => 0);
}
