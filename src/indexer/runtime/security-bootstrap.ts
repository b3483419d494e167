import type { CloudFormationCustomResourceEvent, CloudFormationCustomResourceResponse } from 'aws-lambda';
import { ConfigError, INDEX_NAME, parseEndpoint, ROLE_ARN } from './config';
import { errorMessage, jsonLogger, Logger } from './log';
import { describeFailure, OpenSearchClient, OpenSearchClientOptions, RetryPolicy } from './opensearch-client';
import { PROPERTY, readerRoleName, securityRequests, SecurityRolesConfig, writerRoleName } from './security-roles';

/**
 * The security bootstrap of a StreamIndexer's managed domain: a CloudFormation custom resource
 * (`Custom::OpenSearchSecurityRoles`) whose function is the domain's fine-grained access control master
 * user. On Create and Update it writes, through the security plugin's REST API, a writer role limited to
 * the construct's index (mapped to the indexer's IAM role) and a read-only role on the index (mapped to
 * the search function's IAM role and to any role given to `StreamIndexer.grantSearch`). Every call is a PUT of the whole role or mapping, so repeating it is
 * harmless. Delete does nothing: the roles go with the domain, and a retained domain keeps working.
 *
 * The function answers CloudFormation itself, at the event's presigned response URL, so no provider
 * framework (and none of its extra functions) is needed; it answers FAILED with a reason rather than
 * throwing, and before Lambda's timeout, so a stack never waits for an answer that will not come.
 */

/** Validates the resource properties; `region` is the function's own (the domain is in the same stack). */
export function securityRolesConfig(properties: Record<string, unknown>, region: string | undefined): SecurityRolesConfig {
  const text = (name: string): string => {
    const value = properties[name];
    if (typeof value !== 'string' || value.trim() === '') {
      throw new ConfigError(`property ${name} is missing`);
    }
    return value.trim();
  };
  const endpoint = parseEndpoint(text(PROPERTY.ENDPOINT), `property ${PROPERTY.ENDPOINT}`);
  const index = text(PROPERTY.INDEX);
  if (!INDEX_NAME.test(index)) {
    throw new ConfigError(`property ${PROPERTY.INDEX} must be lowercase letters, digits, '.', '_' or '-', got ${JSON.stringify(index)}`);
  }
  const roleArn = (name: string): string => {
    const value = text(name);
    if (!ROLE_ARN.test(value)) {
      throw new ConfigError(`property ${name} must be an IAM role ARN, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  if (!region) {
    throw new ConfigError('AWS_REGION is not set');
  }
  return {
    endpoint,
    region,
    index,
    writerRoleArn: roleArn(PROPERTY.WRITER_ROLE_ARN),
    readerRoleArn: roleArn(PROPERTY.READER_ROLE_ARN),
    extraReaderRoleArns: extraReaders(properties[PROPERTY.EXTRA_READER_ROLE_ARNS]),
  };
}

/** The optional list of further readers' role ARNs (`StreamIndexer.grantSearch`); each must be a role ARN. */
function extraReaders(value: unknown): string[] {
  if (value === undefined) {
    return [];
  }
  if (!Array.isArray(value)) {
    throw new ConfigError(`property ${PROPERTY.EXTRA_READER_ROLE_ARNS} must be a list of IAM role ARNs, got ${JSON.stringify(value)}`);
  }
  return value.map(item => {
    const arn = typeof item === 'string' ? item.trim() : item;
    if (typeof arn !== 'string' || !ROLE_ARN.test(arn)) {
      throw new ConfigError(`property ${PROPERTY.EXTRA_READER_ROLE_ARNS} must list IAM role ARNs, got ${JSON.stringify(item)}`);
    }
    return arn;
  });
}

/** Writes the roles and their mappings; throws naming the first call that failed. */
export async function applySecurityRoles(config: SecurityRolesConfig, options: OpenSearchClientOptions, log: Logger): Promise<void> {
  const client = new OpenSearchClient({ endpoint: config.endpoint, service: 'es', region: config.region, index: config.index }, options);
  for (const step of securityRequests(config)) {
    const res = await client.request({ method: 'PUT', path: step.path, json: step.json });
    if (res.status < 200 || res.status >= 300) {
      throw new Error(`PUT ${step.path} failed: ${describeFailure(res)}`);
    }
    log({ level: 'info', event: 'security_put', path: step.path, status: res.status, attempts: res.attempts });
  }
}

export interface SecurityBootstrapDeps extends OpenSearchClientOptions {
  readonly log?: Logger;
  /** The function's region; `AWS_REGION` when absent. */
  readonly region?: string;
  /** Milliseconds left before Lambda stops the function (the context's `getRemainingTimeInMillis`). */
  readonly remainingTimeMs?: () => number;
  /** Named in a FAILED reason, so the stack event points at the log. */
  readonly logStreamName?: string;
  /** Attempts at delivering the answer to CloudFormation. */
  readonly responseAttempts?: number;
}

/**
 * The domain is reachable once CloudFormation reports it created, but the security plugin can answer 503
 * for a little while after: retry longer than the data path does.
 */
export const BOOTSTRAP_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 10_000, timeoutMs: 10_000 };

/** Time kept back from Lambda's timeout to deliver the answer. */
export const RESPONSE_RESERVE_MS = 15_000;

/** CloudFormation refuses answers over 4 KB; the reason is the only part that can grow. */
const MAX_REASON_LENGTH = 1_000;

/**
 * Handles one custom resource event and answers CloudFormation. Resolves once CloudFormation has the
 * answer; rejects only when the answer could not be delivered (Lambda then retries the event, and every
 * step is idempotent).
 */
export async function handleSecurityBootstrap(event: CloudFormationCustomResourceEvent, deps: SecurityBootstrapDeps = {}): Promise<void> {
  const log = deps.log ?? jsonLogger;
  const physicalResourceId = event.RequestType === 'Create' ? `${event.LogicalResourceId}-security-roles` : event.PhysicalResourceId;
  let status: 'SUCCESS' | 'FAILED' = 'SUCCESS';
  let reason: string | undefined;
  let data: Record<string, string> | undefined;
  if (event.RequestType === 'Delete') {
    // Nothing to undo: the roles live in the domain's security index and go with the domain.
    log({ level: 'info', event: 'security_delete_ignored', physicalResourceId });
  } else {
    const started = Date.now();
    try {
      const config = securityRolesConfig(event.ResourceProperties, deps.region ?? process.env.AWS_REGION);
      await withDeadline(
        applySecurityRoles(config, { ...deps, retry: { ...BOOTSTRAP_RETRY, ...deps.retry } }, log),
        (deps.remainingTimeMs?.() ?? Infinity) - RESPONSE_RESERVE_MS,
      );
      data = { WriterRole: writerRoleName(config.index), ReaderRole: readerRoleName(config.index) };
      log({ level: 'info', event: 'security_roles_applied', requestType: event.RequestType, index: config.index, durationMs: Date.now() - started });
    } catch (err) {
      status = 'FAILED';
      const where = deps.logStreamName ? ` (log stream ${deps.logStreamName})` : '';
      reason = `${errorMessage(err).slice(0, MAX_REASON_LENGTH)}${where}`;
      log({ level: 'error', event: 'security_roles_failed', requestType: event.RequestType, error: errorMessage(err), durationMs: Date.now() - started });
    }
  }
  const response = {
    Status: status,
    Reason: reason,
    PhysicalResourceId: physicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    Data: data,
  } as CloudFormationCustomResourceResponse;
  await sendResponse(event.ResponseURL, response, deps, log);
}

/**
 * PUTs the answer to the presigned S3 URL. The body goes as bytes with an empty content type: the URL was
 * signed without one, and fetch would otherwise add `text/plain`. The URL itself is a credential and is
 * never logged.
 */
export async function sendResponse(
  url: string, response: CloudFormationCustomResourceResponse, deps: SecurityBootstrapDeps, log: Logger,
): Promise<void> {
  const body = Buffer.from(JSON.stringify(response));
  const attempts = deps.responseAttempts ?? 3;
  const fetchImpl = deps.fetch ?? fetch;
  let failure = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const res = await fetchImpl(url, { method: 'PUT', headers: { 'content-type': '' }, body, signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      if (res.ok) {
        log({ level: 'info', event: 'cloudformation_answered', status: response.Status, attempts: attempt });
        return;
      }
      failure = `HTTP ${res.status}`;
    } catch (err) {
      failure = errorMessage(err);
    }
    if (attempt < attempts) {
      await new Promise(resolve => setTimeout(resolve, 200 * 2 ** (attempt - 1)));
    }
  }
  log({ level: 'error', event: 'cloudformation_unanswered', status: response.Status, error: failure, attempts });
  throw new Error(`could not deliver the ${response.Status} answer to CloudFormation after ${attempts} attempts: ${failure}`);
}

/** `work`, or a rejection once `budgetMs` has passed (the work itself is abandoned, not cancelled). */
async function withDeadline<T>(work: Promise<T>, budgetMs: number): Promise<T> {
  if (!Number.isFinite(budgetMs)) {
    return work;
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the security API calls did not finish within ${(Math.max(0, budgetMs) / 1000).toFixed(1)} s`)), Math.max(0, budgetMs));
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
