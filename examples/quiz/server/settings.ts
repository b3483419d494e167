import { AddressBound } from './limits';

/** Quiz settings, from the environment (see examples/quiz/README.md). */
export interface QuizSettings {
  readonly questionSetsTable: string;
  readonly resultsTable: string;
  /** A local DynamoDB-API store (dynalite). @default - AWS */
  readonly dynamoEndpoint?: string;
  /** HMAC key of the sign-on tokens (Secrets Manager in AWS). */
  readonly tokenSecret: string;
  /** Proxies in front of the server that append to X-Forwarded-For (CloudFront and the load balancer: 2). */
  readonly trustedProxies: number;
  /** Every Redis key of a quiz expires this long after its last change; stored question sets too. */
  readonly ttlSeconds: number;
  /** Shortest time between two leaderboard (and host progress) frames per quiz from one server. */
  readonly leaderboardIntervalMs: number;
  /** Entries in a LEADERBOARD frame. */
  readonly leaderboardSize: number;
  /** How often each server looks for overdue quizzes and results to store. */
  readonly sweepMs: number;
  /** Per-address bounds, counted in Redis across servers. */
  readonly bounds: {
    readonly hosts: AddressBound;
    readonly uploads: AddressBound;
    readonly joins: AddressBound;
    readonly connections: AddressBound;
    readonly answers: AddressBound;
  };
  /** Open WebSocket connections one address may hold on one server (the kit's bound; 429 beyond). */
  readonly openConnectionsPerAddress: number;
  /** Participants one quiz takes. */
  readonly maxParticipants: number;
  /** Per-connection message rate (answers, question requests, everything). */
  readonly messagesPerSecond: number;
  readonly messageBurst: number;
  /** Serve web/ from here (local runs; in AWS the front door serves it). */
  readonly webDir?: string;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): QuizSettings {
  const required = (name: string) => {
    const value = env[name];
    if (!value) {
      throw new Error(`${name} is not set`);
    }
    return value;
  };
  const num = (name: string, fallback: number, min: number, max: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      return fallback;
    }
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`${name}=${raw} is not a whole number from ${min} to ${max}`);
    }
    return value;
  };
  const bound = (kind: string, name: string, max: number, windowSeconds: number): AddressBound =>
    ({ kind, max: num(name, max, 1, 1_000_000), windowSeconds });
  const tokenSecret = required('QUIZ_TOKEN_SECRET');
  if (tokenSecret.length < 16) {
    throw new Error('QUIZ_TOKEN_SECRET must be at least 16 characters');
  }
  return {
    questionSetsTable: required('QUIZ_QUESTION_SETS_TABLE'),
    resultsTable: required('QUIZ_RESULTS_TABLE'),
    dynamoEndpoint: env.DYNAMODB_ENDPOINT || undefined,
    tokenSecret,
    trustedProxies: num('QUIZ_TRUSTED_PROXIES', 1, 0, 5),
    ttlSeconds: num('QUIZ_TTL_SECONDS', 86_400, 60, 30 * 86_400),
    leaderboardIntervalMs: num('QUIZ_LEADERBOARD_INTERVAL_MS', 200, 10, 10_000),
    leaderboardSize: num('QUIZ_LEADERBOARD_SIZE', 10, 1, 100),
    sweepMs: num('QUIZ_SWEEP_MS', 1000, 50, 60_000),
    bounds: {
      // A classroom shares one address behind its NAT: joins and connections allow a few hundred.
      hosts: bound('quizzes', 'QUIZ_HOSTS_PER_ADDRESS', 20, 3600),
      uploads: bound('uploads', 'QUIZ_UPLOADS_PER_ADDRESS', 60, 3600),
      joins: bound('joins', 'QUIZ_JOINS_PER_ADDRESS', 300, 600),
      connections: bound('connections', 'QUIZ_CONNECTIONS_PER_ADDRESS', 600, 60),
      answers: bound('answers', 'QUIZ_ANSWERS_PER_ADDRESS', 300, 1),
    },
    openConnectionsPerAddress: num('QUIZ_OPEN_CONNECTIONS_PER_ADDRESS', 500, 1, 100_000),
    maxParticipants: num('QUIZ_MAX_PARTICIPANTS', 2000, 1, 100_000),
    messagesPerSecond: num('QUIZ_MESSAGES_PER_SECOND', 10, 1, 1000),
    messageBurst: num('QUIZ_MESSAGE_BURST', 20, 1, 1000),
    webDir: env.QUIZ_WEB_DIR || undefined,
  };
}
