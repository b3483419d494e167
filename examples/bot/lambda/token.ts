import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * The bot token for a function that answers through the REST API: `BOT_TOKEN` when set (local runs),
 * else the secret `BOT_TOKEN_SECRET_ARN` (optionally its JSON field `BOT_TOKEN_SECRET_FIELD`) read once
 * per container with Secrets Manager's GetSecretValue, so the token never sits in the function's
 * environment. The call is signed with the function role's credentials (SigV4); `BOT_SECRETS_ENDPOINT`
 * points it elsewhere for tests.
 */
let cached: Promise<string> | undefined;

export function botToken(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.BOT_TOKEN) {
    return Promise.resolve(env.BOT_TOKEN);
  }
  cached ??= readSecret(env).catch(err => {
    cached = undefined;
    throw err;
  });
  return cached;
}

/** Forgets the cached token (tests). */
export function forgetToken(): void {
  cached = undefined;
}

async function readSecret(env: NodeJS.ProcessEnv): Promise<string> {
  const secretId = env.BOT_TOKEN_SECRET_ARN;
  if (!secretId) {
    throw new Error('neither BOT_TOKEN nor BOT_TOKEN_SECRET_ARN is set');
  }
  const region = env.AWS_REGION ?? /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):/.exec(secretId)?.[1] ?? 'us-east-1';
  const url = new URL(env.BOT_SECRETS_ENDPOINT ?? `https://secretsmanager.${region}.amazonaws.com/`);
  const body = JSON.stringify({ SecretId: secretId });
  const signer = new SignatureV4({ credentials: defaultProvider(), region, service: 'secretsmanager', sha256: Hash.bind(null, 'sha256') });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    headers: { 'host': url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.GetSecretValue' },
    body,
  });
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host'));
  const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(5000) });
  const answer = await res.json().catch(() => ({})) as { SecretString?: string; message?: string; __type?: string };
  if (!res.ok || typeof answer.SecretString !== 'string') {
    throw new Error(`GetSecretValue ${secretId} failed: HTTP ${res.status} ${answer.__type ?? ''} ${answer.message ?? ''}`.trim());
  }
  const field = env.BOT_TOKEN_SECRET_FIELD;
  if (!field) {
    return answer.SecretString;
  }
  const value = (JSON.parse(answer.SecretString) as Record<string, unknown>)[field];
  if (typeof value !== 'string' || !value) {
    throw new Error(`the secret ${secretId} has no string field ${field}`);
  }
  return value;
}
