import * as os from 'os';
import * as path from 'path';
import { QuizLoad } from './loadgen';
import { QUESTION_SETS_TABLE_KEY, RESULTS_TABLE_KEY } from '../../examples/quiz/server/tables';
import { formatTable } from '../../scripts/lib/table';
import { startRedis } from '../../test/support/redis-server';
import { spawnDynalite } from '../lib/dynalite-process';
import { cleanUpOnSignal, cpuSeconds, machineCpuSeconds, spawnTs, stop } from '../lib/procs';
import { percentile, round } from '../lib/stats';

export interface QuizBenchOptions {
  readonly participants: number;
  readonly questions: number;
  /** Seconds per question (long enough that nobody times out when the servers keep up). */
  readonly durationSeconds: number;
  /** Give up after this long. */
  readonly timeoutSeconds: number;
}

export interface QuizBenchResult {
  readonly options: QuizBenchOptions;
  readonly answersAccepted: number;
  readonly answersPerSecond: number;
  readonly seconds: number;
  readonly finishedParticipants: number;
  readonly errors: Record<string, number>;
  /** From an answer's server time to its participant's first LEADERBOARD read after it. */
  readonly leaderboardP50Ms: number;
  readonly leaderboardP99Ms: number;
  readonly leaderboardSamples: number;
  readonly cpuPercent: Record<string, number>;
}

const SERVER_ENTRY = path.join(__dirname, 'quiz-server.ts');
/** The server's default per-connection rate (QUIZ_MESSAGES_PER_SECOND): two messages per answer. */
const MESSAGES_PER_SECOND = 10;

/**
 * Two quiz server processes on one redis-server and dynalite (own process), all on 127.0.0.1, with their
 * default settings; one host and N participants (half on each server, each with its own address) answer
 * every question as fast as the per-connection rate allows. Reports accepted answers a second and how long
 * an answer takes to show in a LEADERBOARD frame.
 */
export async function runQuizBench(options: QuizBenchOptions, log: (line: string) => void): Promise<QuizBenchResult> {
  console.log(`\nQuiz: 2 server processes + redis-server + dynalite; ${options.participants} participants (half on each server) answer `
    + `${options.questions} questions each, as fast as ${MESSAGES_PER_SECOND} messages/s per connection allows`);
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
    const quiet = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    const dynamo = spawnDynalite({ 'question-sets': QUESTION_SETS_TABLE_KEY, 'results': RESULTS_TABLE_KEY }, quiet);
    stoppers.push(() => stop(dynamo));
    const endpoint = await reported<string>(dynamo, 'endpoint', 'dynalite');
    const env = {
      ...quiet,
      PORT: '0',
      REALTIME_BUS_URL: redis.url,
      REALTIME_BUS_AUTH: 'bench',
      DYNAMODB_ENDPOINT: endpoint,
      QUIZ_QUESTION_SETS_TABLE: 'question-sets',
      QUIZ_RESULTS_TABLE: 'results',
      QUIZ_TOKEN_SECRET: 'quiz-benchmark-token-secret',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      REALTIME_DRAIN_SECONDS: '0',
    };
    const servers = [0, 1].map(() => spawnTs(SERVER_ENTRY, env, { dropMetricLines: true }));
    servers.forEach(s => stoppers.push(() => stop(s)));
    const ports = await Promise.all(servers.map(s => reported<number>(s, 'port', 'quiz server')));
    const questions = Array.from({ length: options.questions }, (_, i) => ({
      question: `Benchmark question ${i + 1}?`,
      category: i % 2 ? 'odd' : 'even',
      options: ['a', 'b', 'c', 'd'],
      answers: i % 5 === 4 ? [0, 2] : [i % 4],
    }));
    const load = new QuizLoad(ports, questions, MESSAGES_PER_SECOND);
    stoppers.push(async () => load.close());
    const setUpStarted = performance.now();
    await load.setUp(options.participants);
    log(`${options.participants} participants joined and connected in ${round((performance.now() - setUpStarted) / 1000)} s`);

    const pids: Record<string, number> = {
      'quiz server 1': servers[0].pid!, 'quiz server 2': servers[1].pid!, 'redis-server': redis.pid, 'dynalite': dynamo.pid!, 'load generator': process.pid,
    };
    const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
    const machineBefore = machineCpuSeconds();
    const { startedAt, endedAt } = await load.run(options.durationSeconds, options.timeoutSeconds * 1000);
    const seconds = (endedAt - startedAt) / 1000;
    const cpuPercent: Record<string, number> = Object.fromEntries(Object.entries(pids)
      .map(([k, pid]) => [k, ((cpuSeconds(pid) - cpuBefore[k]) / seconds) * 100]));
    const ours = Object.values(cpuPercent).reduce((a, b) => a + b, 0);
    cpuPercent['other processes'] = Math.max(0, ((machineCpuSeconds() - machineBefore) / seconds) * 100 - ours);

    const latencies: number[] = [];
    const errors: Record<string, number> = {};
    for (const p of load.participants) {
      let b = 0;
      for (const at of p.answeredAt) {
        while (b < p.boards.length && p.boards[b][0] < at) {
          b++;
        }
        if (b < p.boards.length) {
          latencies.push(p.boards[b][1] - at);
        }
      }
      for (const [code, n] of Object.entries(p.errors)) {
        errors[code] = (errors[code] ?? 0) + n;
      }
    }
    const answersAccepted = load.participants.reduce((sum, p) => sum + p.answeredAt.length, 0);
    const result: QuizBenchResult = {
      options,
      answersAccepted,
      answersPerSecond: answersAccepted / seconds,
      seconds,
      finishedParticipants: load.participants.filter(p => p.done).length,
      errors,
      leaderboardP50Ms: percentile(latencies, 50),
      leaderboardP99Ms: percentile(latencies, 99),
      leaderboardSamples: latencies.length,
      cpuPercent,
    };
    console.log('\n' + formatTable([{
      'participants': options.participants,
      'answers accepted': answersAccepted,
      'seconds': round(seconds),
      'answers/s': Math.round(result.answersPerSecond),
      'finished': result.finishedParticipants,
      'leaderboard p50 ms': round(result.leaderboardP50Ms),
      'leaderboard p99 ms': round(result.leaderboardP99Ms),
      'error frames': Object.entries(errors).map(([k, v]) => `${k} ×${v}`).join(', ') || '0',
      'CPU % servers': `${Math.round(cpuPercent['quiz server 1'])} + ${Math.round(cpuPercent['quiz server 2'])}`,
      'redis %': Math.round(cpuPercent['redis-server']),
      'loadgen %': Math.round(cpuPercent['load generator']),
      'other procs %': Math.round(cpuPercent['other processes']),
    }]));
    console.log(`  machine: ${os.cpus().length} CPUs; leaderboard latency from ${latencies.length} answers (answer's server time → its participant's first LEADERBOARD read after it)`);
    return result;
  } finally {
    await stopAll();
    removeSignalHandlers();
  }
}

function reported<T>(proc: import('child_process').ChildProcess, key: string, name: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    proc.once('message', (m: any) => resolve(m[key]));
    proc.once('exit', code => reject(new Error(`${name} exited with ${code} before reporting its ${key}`)));
  });
}

if (require.main === module) {
  const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
  runQuizBench({
    participants: env('BENCH_QUIZ_PARTICIPANTS', 1000),
    questions: env('BENCH_QUIZ_QUESTIONS', 40),
    durationSeconds: 60,
    timeoutSeconds: env('BENCH_QUIZ_TIMEOUT_SECONDS', 120),
  }, line => console.log(`  ${line}`)).then(() => process.exit(0), err => {
    console.error(err);
    process.exit(1);
  });
}
