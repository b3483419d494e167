import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { z } from 'zod';
import { int, required } from '../server/config';
import { ALL_SHARDS, EnvelopeError } from '../server/envelope';
import { BotMessaging } from '../server/messaging';
import { Gathered, RequestClient } from '../server/request-reply';

/**
 * The command API's function (ShardedBot `commandApi`): `POST /commands` with a JSON body publishes a
 * request to one shard or all of them and answers with what they replied, gathered on the function's
 * reply queue. Environment: `BOT_TOPIC_ARN`, `BOT_REPLY_QUEUE_URL`, `SHARD_COUNT` (from ShardedBot);
 * `BOT_COMMAND_TIMEOUT_MS` (default 3000) and, for local runs, `BOT_AWS_ENDPOINT`.
 *
 *   {"command": "stats"}                                         guilds summed over every shard
 *   {"command": "ping", "shard": 2}  or  {"command": "ping", "guildId": "..."}
 *   {"command": "say", "guildId": "...", "channelId": "...", "content": "hello"}
 */

const MAX_BODY_BYTES = 16 * 1024;
const Snowflake = z.string().regex(/^\d{1,20}$/, 'a snowflake (digits)');

export const CommandBody = z.discriminatedUnion('command', [
  z.strictObject({ command: z.literal('stats') }),
  z.strictObject({ command: z.literal('ping'), shard: z.number().int().min(0).optional(), guildId: Snowflake.optional() }),
  z.strictObject({ command: z.literal('say'), guildId: Snowflake, channelId: Snowflake, content: z.string().min(1).max(2000) }),
]);
export type CommandBody = z.infer<typeof CommandBody>;

export interface CommandEnv {
  readonly topicArn: string;
  readonly replyQueueUrl: string;
  readonly shardCount: number;
  readonly timeoutMs: number;
  readonly awsEndpoint?: string;
}

export function readCommandEnv(env: NodeJS.ProcessEnv = process.env): CommandEnv {
  return {
    topicArn: required(env, 'BOT_TOPIC_ARN'),
    replyQueueUrl: required(env, 'BOT_REPLY_QUEUE_URL'),
    shardCount: int(env, 'SHARD_COUNT', undefined, 1, 4096),
    timeoutMs: int(env, 'BOT_COMMAND_TIMEOUT_MS', 3000, 100, 29_000),
    awsEndpoint: env.BOT_AWS_ENDPOINT || undefined,
  };
}

/** The shard that holds a guild: `(guild_id >> 22) % shard_count`. */
export function shardOfGuild(guildId: string, shardCount: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
}

type Handler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** A handler bound to an environment (the exported `handler` reads `process.env` on first use). */
export function createCommandHandler(env: CommandEnv): Handler {
  const messaging = new BotMessaging({ endpoint: env.awsEndpoint });
  const client = new RequestClient({ messaging, topicArn: env.topicArn, replyTo: env.replyQueueUrl, shardCount: env.shardCount, inbox: 'poll' });
  return async event => {
    let body: CommandBody;
    try {
      body = parseBody(event);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 400;
      return json(status, { error: err instanceof HttpError ? err.code : 'invalid_request', message: (err as Error).message });
    }
    try {
      switch (body.command) {
        case 'stats': {
          const gathered = await client.request('stats', {}, ALL_SHARDS, env.timeoutMs);
          let guilds = 0;
          for (const answer of gathered.answers.values()) {
            guilds += (answer as { guilds: number }).guilds;
          }
          return json(200, { guilds, ...summary(gathered, env.shardCount) });
        }
        case 'ping': {
          const shard = body.shard ?? (body.guildId ? shardOfGuild(body.guildId, env.shardCount) : 0);
          return single(await client.request('ping', {}, shard, env.timeoutMs), shard);
        }
        case 'say': {
          const shard = shardOfGuild(body.guildId, env.shardCount);
          const { guildId, channelId, content } = body;
          return single(await client.request('say', { guildId, channelId, content }, shard, env.timeoutMs), shard);
        }
      }
    } catch (err) {
      if (err instanceof EnvelopeError) {
        return json(400, { error: err.code, message: err.message });
      }
      console.error(JSON.stringify({ level: 'error', msg: 'command failed', err: (err as Error).message }));
      return json(502, { error: 'publish_failed', message: 'the command could not be sent to the shards' });
    }
  };
}

let defaultHandler: Handler | undefined;

export const handler: Handler = async event => {
  defaultHandler ??= createCommandHandler(readCommandEnv());
  return defaultHandler(event);
};

class HttpError extends Error {
  constructor(public readonly status: number, public readonly code: string, message: string) {
    super(message);
  }
}

function parseBody(event: APIGatewayProxyEventV2): CommandBody {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    throw new HttpError(413, 'too_large', `the body is ${Buffer.byteLength(text)} bytes; the limit is ${MAX_BODY_BYTES}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'bad_json', 'the body is not JSON');
  }
  const parsed = CommandBody.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.join('.') || 'body';
    const hint = where === 'command' ? ' (commands: stats, ping, say)' : '';
    throw new HttpError(400, 'invalid_request', `${where}: ${issue.message}${hint}`);
  }
  return parsed.data;
}

/** One shard's answer: 200 with it, the shard's refusal as 4xx, or 504 when it did not answer in time. */
function single(gathered: Gathered, shard: number): APIGatewayProxyStructuredResultV2 {
  if (gathered.answers.has(shard)) {
    return json(200, { shard, answer: gathered.answers.get(shard), elapsedMs: gathered.elapsedMs });
  }
  const error = gathered.errors.get(shard);
  if (error) {
    return json(error.code === 'wrong_shard' ? 409 : 400, { shard, error: error.code, message: error.message });
  }
  return json(504, { shard, error: 'no_answer', message: `shard ${shard} did not answer within ${gathered.elapsedMs} ms` });
}

function summary(gathered: Gathered, shardCount: number): object {
  return {
    shards: shardCount,
    answered: [...gathered.answers.keys()].sort((a, b) => a - b),
    missing: gathered.missing,
    errors: Object.fromEntries(gathered.errors),
    partial: !gathered.complete,
    elapsedMs: gathered.elapsedMs,
  };
}

function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
