import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { ConnectionConfig } from './config';

/**
 * A small OpenSearch client: JSON and NDJSON requests over global fetch, SigV4-signed for `aoss` or `es`,
 * with bounded retries. The full OpenSearch client and the AWS SDK would add megabytes for four endpoints.
 */

export interface RetryPolicy {
  /** Attempts per request, the first included. */
  readonly maxAttempts: number;
  /** Backoff before attempt n+1 is base * 2^(n-1), capped by maxDelayMs, half of it random (jitter). */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Per-attempt timeout; a timed-out attempt counts as a network error. */
  readonly timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 2_000, timeoutMs: 10_000 };

export interface OpenSearchClientOptions {
  /** Credentials or a provider of them; the default provider chain (Lambda role) when absent. */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  readonly retry?: Partial<RetryPolicy>;
  /** Replaces global fetch (tests use it to tamper with requests after signing). */
  readonly fetch?: typeof fetch;
}

export interface OpenSearchRequest {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Path below the endpoint, each segment already URI-encoded, e.g. `/messages/_bulk`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  /** Serialized as JSON. */
  readonly json?: unknown;
  /** Sent as `application/x-ndjson`; must end with a newline. */
  readonly ndjson?: string;
}

export interface OpenSearchResponse {
  readonly status: number;
  /** Parsed JSON body, or undefined when the body was empty or not JSON. */
  readonly body: any;
  /** Attempts it took, for logs and tests. */
  readonly attempts: number;
}

/** The request could not get any HTTP answer within the attempts (network errors or timeouts). */
export class OpenSearchUnreachableError extends Error {
  constructor(message: string, readonly attempts: number) {
    super(message);
    this.name = 'OpenSearchUnreachableError';
  }
}

let defaultCredentials: AwsCredentialIdentityProvider | undefined;

/** One provider per container: it caches the role's credentials and refreshes them before they expire. */
function lambdaCredentials(): AwsCredentialIdentityProvider {
  defaultCredentials ??= defaultProvider();
  return defaultCredentials;
}

/** Throttling and server errors are worth another attempt; other 4xx would fail the same way again. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** Error type from an OpenSearch error body (`{"error":{"type":...}}`), if any. */
export function errorType(body: any): string | undefined {
  return typeof body?.error?.type === 'string' ? body.error.type : undefined;
}

/** A short description of a failed response for logs: status, error type and reason, never the request. */
export function describeFailure(res: OpenSearchResponse): string {
  // OpenSearch errors carry error.reason; AWS front ends answer with a message, the security plugin with
  // a message or a top-level reason.
  const text = res.body?.error?.reason ?? res.body?.message ?? res.body?.reason;
  const reason = typeof text === 'string' ? `: ${text.slice(0, 300)}` : '';
  return `HTTP ${res.status}${errorType(res.body) ? ` ${errorType(res.body)}` : ''}${reason}`;
}

/** RFC 3986 escaping, the same set SigV4 canonicalizes with, so the wire form and the signed form agree. */
export function uriEscape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export class OpenSearchClient {
  private readonly signer: SignatureV4;
  private readonly url: URL;
  private readonly retry: RetryPolicy;
  private readonly fetchImpl: typeof fetch;

  constructor(readonly connection: ConnectionConfig, options: OpenSearchClientOptions = {}) {
    this.url = new URL(connection.endpoint);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.signer = new SignatureV4({
      credentials: options.credentials ?? lambdaCredentials(),
      region: connection.region,
      service: connection.service,
      sha256: Hash.bind(null, 'sha256'),
    });
  }

  /**
   * Sends the request, retrying throttling, 5xx answers and network errors with backoff. Returns the last
   * answer whatever its status; throws OpenSearchUnreachableError only when no attempt got an answer.
   */
  async request(req: OpenSearchRequest): Promise<OpenSearchResponse> {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.send(req, attempt);
        if (!isRetryableStatus(res.status) || attempt >= this.retry.maxAttempts) {
          return res;
        }
      } catch (err) {
        if (attempt >= this.retry.maxAttempts) {
          const detail = err instanceof Error ? `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}` : String(err);
          throw new OpenSearchUnreachableError(`${req.method} ${req.path} failed after ${attempt} attempts: ${detail}`, attempt);
        }
      }
      await sleep(this.backoff(attempt));
    }
  }

  /** Equal jitter: half the exponential delay is fixed, half random, so retries spread but never collapse to 0. */
  backoff(attempt: number): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  private async send(req: OpenSearchRequest, attempt: number): Promise<OpenSearchResponse> {
    let body: string | undefined;
    let contentType: string | undefined;
    if (req.ndjson !== undefined) {
      body = req.ndjson;
      contentType = 'application/x-ndjson';
    } else if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      contentType = 'application/json';
    }
    const headers: Record<string, string> = { host: this.url.host };
    if (contentType) {
      headers['content-type'] = contentType;
    }
    // Signed afresh per attempt: x-amz-date must be recent. The signer adds x-amz-content-sha256 (of the
    // body), which OpenSearch Serverless requires, and x-amz-security-token for role credentials.
    const signed = await this.signer.sign({
      method: req.method,
      protocol: this.url.protocol,
      hostname: this.url.hostname,
      port: this.url.port ? Number(this.url.port) : undefined,
      path: req.path,
      query: { ...req.query },
      headers,
      body,
    });
    const sent: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers)) {
      // fetch derives Host from the URL (the same value that was signed) and refuses to set it.
      if (name !== 'host') {
        sent[name] = value;
      }
    }
    const query = Object.entries(req.query ?? {}).map(([k, v]) => `${uriEscape(k)}=${uriEscape(v)}`).join('&');
    const res = await this.fetchImpl(`${this.url.origin}${req.path}${query ? `?${query}` : ''}`, {
      method: req.method,
      headers: sent,
      body,
      signal: AbortSignal.timeout(this.retry.timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, attempts: attempt };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}
