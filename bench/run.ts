/**
 * npm run bench: the fan-out benchmark (the kit against socket.io 4 with its Redis adapter, same load
 * generator, two server processes on one redis-server, 127.0.0.1 only), the canvas benchmark and the chat
 * benchmark (two chat server processes on one redis-server and dynalite; 1,000 clients in 10 rooms).
 * Prints tables and writes a timestamped JSON file under bench/results/ and the newest result of each
 * benchmark, with its date and machine, to bench/results/latest.json.
 *
 *   npm run bench                  all three
 *   npm run bench -- fanout        only the fan-out comparison
 *   npm run bench -- canvas        only the canvas
 *   npm run bench -- chat          only the chat
 *   npm run bench -- quiz          only the quiz (1,000 participants over two servers answering as fast as allowed)
 *   npm run bench -- bot           only the bot (cross-shard round trip, messages/s through one shard)
 *   BENCH_CANVAS_BASELINE=95c5e31 npm run bench -- canvas   the canvas at an earlier commit first, then side by side
 *   BENCH_CHAT_BASELINE=95c5e31 npm run bench -- chat       the same for the chat
 *   BENCH_CLIENTS=2000 BENCH_STEP_SECONDS=5 BENCH_WATCHERS=1000 tune the load
 *   BENCH_CHAT_CLIENTS=1000 BENCH_CHAT_ROOMS=10 BENCH_CHAT_RATES=50,100,200 BENCH_CHAT_SENDERS=240 tune the chat's
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runBotBench } from './bot/run-bot';
import { runCanvasBench } from './canvas/run-canvas';
import { runChatBench } from './chat/run-chat';
import { FanoutResult, runFanout, SYSTEMS } from './fanout/run-fanout';
import { withBaseline } from './lib/baseline';
import { round } from './lib/stats';
import { runQuizBench } from './quiz/run-quiz';
import { formatTable } from '../scripts/lib/table';

const log = (line: string) => console.log(`  ${line}`);
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

async function main(): Promise<void> {
  const which = process.argv[2];
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
  };
  if (!which || which === 'fanout') {
    const options = {
      clients: env('BENCH_CLIENTS', 2000),
      rates: [25, 50, 100, 150, 200, 300, 400, 600, 800, 1000, 1500],
      stepSeconds: env('BENCH_STEP_SECONDS', 5),
      fixedRate: env('BENCH_FIXED_RATE', 50),
      p99LimitMs: 250,
    };
    console.log(`\nFan-out: ${options.clients} clients over 2 server processes sharing one redis-server; every message goes to every client`);
    const kit = await runFanout(SYSTEMS.kit, options, log);
    const sio = await runFanout(SYSTEMS.socketIo, options, log);
    results.fanout = { options, kit, socketIo: sio, ratios: ratios(kit, sio) };
    printFanout(kit, sio, options.fixedRate);
  }
  if (!which || which === 'canvas') {
    const options = {
      watchers: env('BENCH_WATCHERS', 1000),
      rates: (process.env.BENCH_CANVAS_RATES ?? '1000,2000,3000,4000,5000,6000,7000,8000,10000').split(',').map(Number),
      stepSeconds: env('BENCH_STEP_SECONDS', 5),
    };
    results.canvas = await withBaseline(process.env.BENCH_CANVAS_BASELINE, 'bench/canvas/canvas-server.ts',
      (serverEntry, label) => runCanvasBench({ ...options, serverEntry, label: label && `Canvas at the baseline ${label}` }, log),
      (before, now) => sideBySide('Canvas', before.steps, now.steps, {
        'accepted/s': s => s.acceptedPerSecond,
        'placement p99 ms': s => s.placementP99Ms,
      }));
  }
  if (!which || which === 'chat') {
    const options = {
      clients: env('BENCH_CHAT_CLIENTS', 1000),
      rooms: env('BENCH_CHAT_ROOMS', 10),
      senders: process.env.BENCH_CHAT_SENDERS ? Number(process.env.BENCH_CHAT_SENDERS) : undefined,
      rates: (process.env.BENCH_CHAT_RATES ?? '50,100,200,400,800,1200,1600,2000,2400').split(',').map(Number),
      stepSeconds: env('BENCH_STEP_SECONDS', 5),
      settleMs: 3000,
      p99LimitMs: 250,
    };
    results.chat = await withBaseline(process.env.BENCH_CHAT_BASELINE, 'bench/chat/chat-server.ts',
      (serverEntry, label) => runChatBench({ ...options, serverEntry, label: label && `Chat at the baseline ${label}` }, log),
      (before, now) => sideBySide('Chat', before.steps, now.steps, {
        'accepted/s': s => s.acceptedPerSecond,
        'delivery p99 ms': s => s.deliveryP99Ms,
      }));
  }
  if (!which || which === 'bot') {
    console.log('\nBot: 4 shards on the local gateway and SNS/SQS stand-ins, one process');
    results.bot = await runBotBench({ requests: env('BENCH_BOT_REQUESTS', 300), messages: env('BENCH_BOT_MESSAGES', 5000), commands: env('BENCH_BOT_COMMANDS', 300) }, log);
  }
  if (!which || which === 'quiz') {
    results.quiz = await runQuizBench({
      participants: env('BENCH_QUIZ_PARTICIPANTS', 1000),
      questions: env('BENCH_QUIZ_QUESTIONS', 40),
      durationSeconds: 60,
      timeoutSeconds: env('BENCH_QUIZ_TIMEOUT_SECONDS', 120),
    }, log);
  }
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const text = JSON.stringify(results, null, 2);
  // latest.json keeps the newest result of each benchmark, so running one does not drop the others'.
  const latestFile = path.join(dir, 'latest.json');
  const previous = fs.existsSync(latestFile) ? JSON.parse(fs.readFileSync(latestFile, 'utf8')) : {};
  const stamp = { date: results.date, machine: results.machine };
  const latest = { ...previous, ...Object.fromEntries(['fanout', 'canvas', 'chat', 'bot', 'quiz'].filter(k => k in results).map(k => [k, { ...stamp, ...(results[k] as object) }])) };
  delete latest.date;
  delete latest.machine;
  fs.writeFileSync(latestFile, JSON.stringify(latest, null, 2));
  fs.writeFileSync(path.join(dir, `${(results.date as string).replace(/[:.]/g, '-')}.json`), text);
  console.log(`\nResults written to ${path.relative(process.cwd(), path.join(dir, 'latest.json'))}`);
  process.exit(0);
}

/** Steps of a baseline run and this checkout's, one row per offered rate, each figure side by side. */
function sideBySide<S extends { rate: number }>(name: string, before: S[], now: S[], figures: Record<string, (s: S) => number>): void {
  const rates = [...new Set([...before, ...now].map(s => s.rate))].sort((a, b) => a - b);
  const cell = (steps: S[], rate: number, pick: (s: S) => number) => {
    const step = steps.find(s => s.rate === rate);
    return step ? Math.round(pick(step)) : '-';
  };
  console.log(`\n${name}, the baseline and this checkout side by side:`);
  console.log(formatTable(rates.map(rate => ({
    'offered/s': rate,
    ...Object.fromEntries(Object.entries(figures).flatMap(([label, pick]) => [
      [`baseline ${label}`, cell(before, rate, pick)],
      [`now ${label}`, cell(now, rate, pick)],
    ])),
  }))));
}

function ratios(kit: FanoutResult, sio: FanoutResult) {
  return {
    sustainedDeliveries: kit.maxSustained && sio.maxSustained
      ? round(kit.maxSustained.deliveriesPerSecond / sio.maxSustained.deliveriesPerSecond, 2)
      : null,
    cpuPerDelivery: round(kit.fixed.cpuSecondsPerMillion / sio.fixed.cpuSecondsPerMillion, 2),
  };
}

function printFanout(kit: FanoutResult, sio: FanoutResult, fixedRate: number): void {
  const row = (r: FanoutResult) => ({
    'system': r.system,
    'max deliveries/s (p99≤250ms, 0 lost)': r.maxSustained ? Math.round(r.maxSustained.deliveriesPerSecond) : 0,
    'p50 ms': r.maxSustained ? round(r.maxSustained.p50Ms) : NaN,
    'p99 ms': r.maxSustained ? round(r.maxSustained.p99Ms) : NaN,
    [`CPU-s per 1M deliveries @${fixedRate * r.clients}/s`]: round(r.fixed.cpuSecondsPerMillion, 2),
    'RSS MiB per server': r.rssMiB.map(m => Math.round(m)).join(' / '),
    'loadgen CPU % at max': r.maxSustained ? Math.round(r.maxSustained.loadgenCpuPercent) : NaN,
  });
  console.log('\n' + formatTable([row(kit), row(sio)]));
  const r = ratios(kit, sio);
  console.log(`\n  kit / socket.io: sustained deliveries ×${r.sustainedDeliveries}, server CPU per delivery ×${r.cpuPerDelivery}`);
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
