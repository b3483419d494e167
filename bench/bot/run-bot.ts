/**
 * The bot benchmark, over the LOCAL STAND-INS (gateway, SNS/SQS) on 127.0.0.1, all in one process:
 *
 * - cross-shard request round trip: shard 0 asks `stats` of all 4 shards (publish with shard=all, 4 replies
 *   gathered on its own queue), and `ping` of shard 2 alone; sequential, p50/p99;
 * - messages per second through one shard: plain MESSAGE_CREATE dispatches handled by shard 0, and `!ping`
 *   commands answered by it through REST (which @discordjs/rest paces at Discord's 50 requests per second).
 *
 *   npx tsx bench/bot/run-bot.ts          or   npm run bench -- bot
 *   BENCH_BOT_REQUESTS=300 BENCH_BOT_MESSAGES=5000 BENCH_BOT_COMMANDS=300 tune it
 */
import { LocalGateway } from '../../examples/bot/local/gateway';
import { startLocalSystem } from '../../examples/bot/local/local-system';
import { ALL_SHARDS } from '../../examples/bot/server/envelope';
import { createLogger } from '../../examples/kit/log';
import { percentile, round } from '../lib/stats';

export interface BotBenchOptions {
  readonly requests: number;
  readonly messages: number;
  readonly commands: number;
}

export interface BotBenchResult {
  readonly options: BotBenchOptions;
  readonly statsAllShardsMs: { p50: number; p99: number; max: number; incomplete: number };
  readonly pingOneShardMs: { p50: number; p99: number; max: number; incomplete: number };
  readonly dispatchesPerSecond: number;
  readonly commandsPerSecond: number;
}

const SHARDS = 4;

export async function runBotBench(options: BotBenchOptions, log: (line: string) => void): Promise<BotBenchResult> {
  // max_concurrency 4: every shard its own identify bucket, so the setup does not wait 18 s.
  const system = await startLocalSystem({ shardCount: SHARDS, gateway: { maxConcurrency: SHARDS, guildCount: 64 }, log: createLogger('bench', 'error') });
  try {
    const shard = system.shards[0]!;
    const timed = async (ask: () => Promise<{ complete: boolean }>) => {
      const times: number[] = [];
      let incomplete = 0;
      for (let i = 0; i < options.requests; i++) {
        const started = performance.now();
        const gathered = await ask();
        times.push(performance.now() - started);
        incomplete += gathered.complete ? 0 : 1;
      }
      return { p50: round(percentile(times, 50)), p99: round(percentile(times, 99)), max: round(Math.max(...times)), incomplete };
    };
    const statsAllShardsMs = await timed(() => shard.requests.request('stats', {}, ALL_SHARDS, 5000));
    log(`stats to all ${SHARDS} shards: p50 ${statsAllShardsMs.p50} ms, p99 ${statsAllShardsMs.p99} ms over ${options.requests} requests`);
    const pingOneShardMs = await timed(() => shard.requests.request('ping', {}, 2, 5000));
    log(`ping to one other shard: p50 ${pingOneShardMs.p50} ms, p99 ${pingOneShardMs.p99} ms`);

    const gateway = system.bot.gateway;
    const guilds = gateway.guilds.filter(g => LocalGateway.shardOf(g, SHARDS) === 0);
    const before = shard.counters.dispatches;
    let started = performance.now();
    for (let i = 0; i < options.messages; i++) {
      gateway.userMessage(guilds[i % guilds.length], `chatter ${i}`);
    }
    while (shard.counters.dispatches - before < options.messages) {
      await new Promise(r => setImmediate(r));
    }
    const dispatchesPerSecond = Math.round(options.messages / ((performance.now() - started) / 1000));
    log(`messages through shard 0: ${dispatchesPerSecond} dispatches/s (${options.messages} MESSAGE_CREATE)`);

    const posted = gateway.posted.length;
    started = performance.now();
    for (let i = 0; i < options.commands; i++) {
      // A different user each time: one user is held to 5 commands per 10 s.
      gateway.userMessage(guilds[i % guilds.length], '!ping', { id: String(8_000_000_000_000_000n + BigInt(i)) });
    }
    const deadline = Date.now() + 120_000;
    while (gateway.posted.length - posted < options.commands) {
      if (Date.now() > deadline) {
        throw new Error(`only ${gateway.posted.length - posted} of ${options.commands} commands answered in 120 s`);
      }
      await new Promise(r => setTimeout(r, 5));
    }
    const commandsPerSecond = round(options.commands / ((performance.now() - started) / 1000));
    log(`commands answered by shard 0: ${commandsPerSecond}/s (${options.commands} !ping, REST paced at 50 requests/s)`);
    return { options, statsAllShardsMs, pingOneShardMs, dispatchesPerSecond, commandsPerSecond };
  } finally {
    await system.stop();
  }
}

if (require.main === module) {
  const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
  runBotBench({
    requests: env('BENCH_BOT_REQUESTS', 300),
    messages: env('BENCH_BOT_MESSAGES', 5000),
    commands: env('BENCH_BOT_COMMANDS', 300),
  }, line => console.log(`  ${line}`)).then(result => {
    console.log(JSON.stringify(result, null, 2));
    process.exit(0);
  }, err => {
    console.error(err);
    process.exit(1);
  });
}
