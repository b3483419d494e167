import { DiscordAPIError, REST } from '@discordjs/rest';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { Routes } from 'discord-api-types/v10';
import { botToken } from './token';
import { analyze, CommandError, checkPayload, describeAnalysis, WorkRequests } from '../server/commands';
import { Envelope, EnvelopeError, NOT_A_SHARD, parseMessage, Reply, replyOf } from '../server/envelope';
import { BotMessaging } from '../server/messaging';

/**
 * The worker function (ShardedBot `worker`): offloaded commands from the work queue, in the bot's
 * envelope. `analyze` reads a text and posts the result in the channel it came from through the REST
 * API; a request with `replyTo` also gets the result as a reply. Failed records are reported one by one
 * (`batchItemFailures`) so only they are retried, and the work queue's dead-letter queue takes a record
 * after its last try. Refusals (bad envelope, bad payload, a channel the API refuses) are logged, answered
 * when possible, and not retried. Environment: the token (see `token.ts`), `BOT_API_URL` and
 * `BOT_AWS_ENDPOINT` for local runs.
 */

export interface WorkerDependencies {
  readonly rest: REST;
  readonly messaging: BotMessaging;
  readonly log?: (level: 'info' | 'warn' | 'error', msg: string, fields: object) => void;
}

type Handler = (event: SQSEvent) => Promise<SQSBatchResponse>;

export function createWorkerHandler(deps: WorkerDependencies): Handler {
  const log = deps.log ?? ((level, msg, fields) => console.log(JSON.stringify({ level, msg, ...fields })));
  return async event => {
    const failures: string[] = [];
    await Promise.all(event.Records.map(async record => {
      try {
        await handleRecord(record, deps, log);
      } catch (err) {
        log('error', 'work failed; the record will be retried', { messageId: record.messageId, err: (err as Error).message, receiveCount: record.attributes.ApproximateReceiveCount });
        failures.push(record.messageId);
      }
    }));
    return { batchItemFailures: failures.map(itemIdentifier => ({ itemIdentifier })) };
  };
}

async function handleRecord(record: SQSRecord, deps: WorkerDependencies, log: NonNullable<WorkerDependencies['log']>): Promise<void> {
  let envelope: Envelope;
  try {
    const parsed = parseMessage(record.body);
    if (parsed.kind !== 'request') {
      throw new EnvelopeError('invalid_envelope', 'a reply was sent to the work queue');
    }
    envelope = parsed.envelope;
  } catch (err) {
    log('warn', 'refused a work record', { messageId: record.messageId, error: (err as Error).message });
    return;
  }
  if (envelope.deadline !== undefined && envelope.deadline < Date.now()) {
    log('info', 'dropped work past its deadline', { type: envelope.type, correlationId: envelope.correlationId });
    return;
  }
  let reply: Reply;
  try {
    if (envelope.type !== 'analyze') {
      throw new CommandError('unknown_type', `unknown work type ${envelope.type}; the worker does ${Object.keys(WorkRequests).join(', ')}`);
    }
    const work = checkPayload(WorkRequests.analyze, envelope.payload, envelope.type);
    const result = analyze(work.text);
    await postOrRefuse(deps.rest, work.channelId, `analysis: ${describeAnalysis(result)}`);
    reply = replyOf(envelope, NOT_A_SHARD, { payload: result });
  } catch (err) {
    if (!(err instanceof CommandError)) {
      throw err;
    }
    log('warn', 'refused work', { type: envelope.type, correlationId: envelope.correlationId, code: err.code, error: err.message });
    reply = replyOf(envelope, NOT_A_SHARD, { error: { code: err.code, message: err.message } });
  }
  if (envelope.replyTo) {
    await deps.messaging.send(envelope.replyTo, reply);
  }
}

/** Posts a message; a 4xx from the API is a refusal (retrying would fail the same way), anything else is retried. */
async function postOrRefuse(rest: REST, channelId: string, content: string): Promise<void> {
  try {
    await rest.post(Routes.channelMessages(channelId), { body: { content: content.slice(0, 2000) } });
  } catch (err) {
    if (err instanceof DiscordAPIError && err.status >= 400 && err.status < 500 && err.status !== 429) {
      throw new CommandError('rest_refused', `the API refused the message to channel ${channelId}: ${err.status} ${err.message}`);
    }
    throw err;
  }
}

let defaultHandler: Promise<Handler> | undefined;

export const handler: Handler = async event => {
  defaultHandler ??= botToken().then(token => createWorkerHandler({
    rest: new REST({ version: '10', ...(process.env.BOT_API_URL ? { api: process.env.BOT_API_URL } : {}) }).setToken(token),
    messaging: new BotMessaging({ endpoint: process.env.BOT_AWS_ENDPOINT || undefined }),
  })).catch(err => {
    defaultHandler = undefined;
    throw err;
  });
  return (await defaultHandler)(event);
};
