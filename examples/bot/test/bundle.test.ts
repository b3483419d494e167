import * as path from 'path';
import type { APIGatewayProxyEventV2, SQSEvent } from 'aws-lambda';
import { startShardProcess } from './shard-process';
import { waitFor } from './wait';
import { bundleFunction, bundleShard } from '../bundle';
import { LocalGateway } from '../local/gateway';
import { LocalBot, LOCAL_TOKEN, startLocalBot } from '../local/local-bot';
import { newRequest } from '../server/envelope';

// The image and the functions run the esbuild bundles, not the TypeScript: check the bundles themselves.
let bot: LocalBot;

beforeAll(async () => {
  bot = await startLocalBot({ shardCount: 2 });
});

afterAll(async () => {
  await bot?.stop();
});

test('the bundled shard program connects, answers !ping in its guild, and closes its session on SIGTERM with exit 0', async () => {
  const outfile = bundleShard();
  const shard = startShardProcess(bot.shardEnv(1), [process.execPath, outfile]);
  try {
    await shard.ready;
    const guild = bot.gateway.guilds.find(g => LocalGateway.shardOf(g, 2) === 1)!;
    bot.gateway.userMessage(guild, '!ping');
    const pong = await waitFor('the pong', () => bot.gateway.posted.find(p => p.guildId === guild));
    expect(pong.content).toMatch(/^pong from shard 1 of 2/);
    shard.proc.kill('SIGTERM');
    expect(await shard.exited).toBe(0);
    // A normal close (1000) ends the session: the next task of the shard identifies afresh.
    expect(bot.gateway.eventsOf('closed', 1).map(e => e.code)).toEqual([1000]);
    expect(bot.gateway.liveShards()).toEqual([]);
  } finally {
    await shard.stop();
  }
}, 60_000);

test('the bundled shard program with a refused token says so and stays up without retrying, then exits 0 on SIGTERM', async () => {
  const shard = startShardProcess(bot.shardEnv(0, { BOT_TOKEN: 'not-the-token' }), [process.execPath, bundleShard()]);
  try {
    await waitFor('the refusal in the log', () => shard.output().includes('the gateway refused the token'), 20_000);
    await new Promise(r => setTimeout(r, 1000));
    expect(shard.proc.exitCode).toBeNull();
    expect(bot.gateway.eventsOf('identify', 0)).toEqual([]);
    shard.proc.kill('SIGTERM');
    expect(await shard.exited).toBe(0);
  } finally {
    await shard.stop();
  }
}, 60_000);

test('the bundled command function publishes to the shards and answers 504 naming the shard when none runs', async () => {
  Object.assign(process.env, {
    BOT_TOPIC_ARN: bot.topicArn, BOT_REPLY_QUEUE_URL: bot.replyQueue, SHARD_COUNT: '2', BOT_COMMAND_TIMEOUT_MS: '500', BOT_AWS_ENDPOINT: bot.messaging.endpoint,
  });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { handler } = require(path.join(bundleFunction('command-api'), 'index.js'));
  const event = { body: JSON.stringify({ command: 'ping', shard: 0 }), isBase64Encoded: false } as APIGatewayProxyEventV2;
  const res = await handler(event);
  expect(res.statusCode).toBe(504);
  expect(JSON.parse(res.body)).toMatchObject({ shard: 0, error: 'no_answer' });
  // The request waits on shard 0's queue with its deadline.
  expect(bot.messaging.bodies('bot-shard-0').map(b => JSON.parse(b).type)).toContain('ping');
  expect((await handler({ body: 'nope' } as APIGatewayProxyEventV2)).statusCode).toBe(400);
});

test('the bundled worker function analyzes a text and posts the result through the REST API', async () => {
  Object.assign(process.env, { BOT_TOKEN: LOCAL_TOKEN, BOT_API_URL: bot.gateway.apiUrl, BOT_AWS_ENDPOINT: bot.messaging.endpoint });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { handler } = require(path.join(bundleFunction('worker'), 'index.js'));
  const guild = bot.gateway.guilds[3];
  const work = newRequest('analyze', { guildId: guild, channelId: bot.gateway.channelOf(guild), text: 'one two three' });
  const event = { Records: [{ messageId: 'm1', body: JSON.stringify(work), attributes: { ApproximateReceiveCount: '1' } }] } as unknown as SQSEvent;
  expect(await handler(event)).toEqual({ batchItemFailures: [] });
  expect(bot.gateway.posted.filter(p => p.guildId === guild).map(p => p.content)).toEqual(['analysis: 3 words, 1 sentence, 13 characters; most used: one (1), three (1), two (1)']);
});
