import { LocalGateway } from './gateway';
import { startLocalSystem } from './local-system';
import { createLogger } from '../../kit/log';

/**
 * `npm run dev bot`: the local gateway stand-in, the local SNS/SQS stand-in, 4 shards, the command API
 * and the worker in one process, then prints what to try and every message the bot posts. Ports: the
 * command API on PORT (8080), the gateway and its REST routes on PORT+1, SNS/SQS on PORT+2.
 * `BOT_LOCAL_MAX_CONCURRENCY` sets the gateway's max_concurrency (default 1: shards identify 6 s apart).
 */
export async function runLocalBot(): Promise<void> {
  const port = Number(process.env.PORT ?? 8080);
  const shardCount = 4;
  const maxConcurrency = Number(process.env.BOT_LOCAL_MAX_CONCURRENCY ?? 1);
  console.log('LOCAL STAND-INS: a Discord-style gateway and SNS/SQS run in this process; nothing talks to Discord or AWS.');
  console.log(`starting ${shardCount} shards; with max_concurrency ${maxConcurrency} they identify one per bucket every 5 s...`);
  const started = Date.now();
  const system = await startLocalSystem({
    shardCount,
    gateway: { port: port + 1, maxConcurrency },
    messagingPort: port + 2,
    commandApiPort: port,
    log: createLogger('bot', process.env.LOG_LEVEL ?? 'warn'),
    shardConfig: process.env.REALTIME_BUS_URL ? { busUrl: process.env.REALTIME_BUS_URL, busAuth: process.env.REALTIME_BUS_AUTH } : {},
  });
  const gateway = system.bot.gateway;
  for (const e of gateway.eventsOf('identify')) {
    console.log(`  shard ${e.shard} identified at +${((e.at - started) / 1000).toFixed(1)} s`);
  }
  const guild = (shard: number) => gateway.guilds.find(g => LocalGateway.shardOf(g, shardCount) === shard)!;
  const say = (g: string, content: string) => `curl -s localhost:${port + 1}/local/messages -d '{"guild_id":"${g}","content":"${content}"}'`;
  console.log(`
ready: ${shardCount} shards, ${gateway.guilds.length} guilds, command API at ${system.commandApi.url}

Type as a user in a guild (the stand-in dispatches MESSAGE_CREATE to the shard that holds it):
  ${say(guild(2), '!ping')}
  ${say(guild(0), '!stats')}
  ${say(guild(1), '!analyze The worker counts the words of this text.')}
Ask through the command API (the Lambda function's code, served locally):
  curl -s ${system.commandApi.url} -d '{"command":"stats"}'
  curl -s ${system.commandApi.url} -d '{"command":"ping","guildId":"${guild(3)}"}'
  curl -s ${system.commandApi.url} -d '{"command":"say","guildId":"${guild(3)}","channelId":"${gateway.channelOf(guild(3))}","content":"hello"}'
What the gateway saw: curl -s localhost:${port + 1}/local/state
Ctrl-C stops everything. Messages the bot posts:`);
  let shown = 0;
  const timer = setInterval(() => {
    for (const p of gateway.posted.slice(shown)) {
      console.log(`  [guild ${p.guildId} shard ${LocalGateway.shardOf(p.guildId!, shardCount)}] bot: ${p.content}`);
    }
    shown = gateway.posted.length;
  }, 200);
  process.once('SIGINT', () => {
    clearInterval(timer);
    system.stop().then(() => process.exit(0), () => process.exit(1));
  });
}
