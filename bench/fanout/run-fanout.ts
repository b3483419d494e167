import * as path from 'path';
import { KIT, LoadGenerator, Protocol, SOCKET_IO, StepResult } from './loadgen';
import { startRedis } from '../../test/support/redis-server';
import { cpuSeconds, rssMiB, startReporting, stop } from '../lib/procs';

export interface FanoutOptions {
  readonly clients: number;
  /** Publish rates (messages a second) to climb through; each message goes to every client. */
  readonly rates: number[];
  readonly stepSeconds: number;
  /** The rate both systems are measured at for CPU per delivery. */
  readonly fixedRate: number;
  readonly p99LimitMs: number;
}

export interface FanoutResult {
  readonly system: string;
  readonly clients: number;
  readonly steps: StepResult[];
  /** Highest deliveries/s of a step with p99 within the limit and nothing lost. */
  readonly maxSustained?: StepResult;
  readonly fixed: StepResult & { readonly cpuSecondsPerMillion: number };
  readonly rssMiB: number[];
}

const SERVERS: Record<string, string> = {
  'kit': path.join(__dirname, 'kit-server.ts'),
  'socket.io': path.join(__dirname, 'socketio-server.ts'),
};

/** Two server processes of one system on one redis-server, the load generator in this process. */
export async function runFanout(protocol: Protocol, options: FanoutOptions, log: (line: string) => void): Promise<FanoutResult> {
  const redis = await startRedis({ password: 'bench' });
  const env = { REALTIME_BUS_URL: redis.url, REALTIME_BUS_AUTH: 'bench', PORT: '0', LOG_LEVEL: 'warn', NODE_ENV: 'production', REALTIME_DRAIN_SECONDS: '0' };
  const servers = await Promise.all([0, 1].map(() => startReporting(SERVERS[protocol.name], env)));
  const pids = servers.map(s => s.proc.pid!);
  const gen = new LoadGenerator(protocol, servers.map(s => s.port), options.clients);
  try {
    await gen.connect();
    log(`${protocol.name}: ${options.clients} clients connected to 2 servers`);
    await gen.step(5, 2, 2000, pids, cpuSeconds); // warm-up
    const steps: StepResult[] = [];
    let failures = 0;
    for (const rate of options.rates) {
      const step = await gen.step(rate, options.stepSeconds, 3000, pids, cpuSeconds);
      steps.push(step);
      const ok = step.lost === 0 && step.p99Ms <= options.p99LimitMs;
      log(`${protocol.name}: ${rate} msg/s → ${Math.round(step.deliveriesPerSecond)} deliveries/s, p99 ${step.p99Ms.toFixed(1)} ms, lost ${step.lost}, loadgen CPU ${step.loadgenCpuPercent.toFixed(0)} % ${ok ? '' : '✘'}`);
      failures = ok ? 0 : failures + 1;
      if (failures >= 2) {
        break;
      }
      await new Promise(r => setTimeout(r, 1000));
    }
    const passing = steps.filter(s => s.lost === 0 && s.p99Ms <= options.p99LimitMs);
    const maxSustained = passing.sort((a, b) => b.deliveriesPerSecond - a.deliveriesPerSecond)[0];
    const fixedStep = await gen.step(options.fixedRate, options.stepSeconds * 2, 3000, pids, cpuSeconds);
    const cpu = fixedStep.serverCpuSeconds.reduce((a, b) => a + b, 0);
    const fixed = { ...fixedStep, cpuSecondsPerMillion: cpu / (fixedStep.delivered / 1e6) };
    return { system: protocol.name, clients: options.clients, steps, maxSustained, fixed, rssMiB: pids.map(rssMiB) };
  } finally {
    gen.close();
    await Promise.all(servers.map(s => stop(s.proc)));
    await redis.stop();
  }
}

export const SYSTEMS = { kit: KIT, socketIo: SOCKET_IO };
