import * as http from 'http';
import { AddressInfo } from 'net';

/** One request that passed the proxy: its operation (`Scan`, `BatchWriteItem`, ...) and JSON body. */
export interface ProxiedRequest {
  readonly operation: string;
  readonly body: string;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of a DynamoDB-API store that records every request and can hold or
 * slow chosen ones: a real slow network path between a server and its table, for writes that land late.
 */
export interface DynamoProxy {
  readonly endpoint: string;
  readonly requests: ProxiedRequest[];
  /** Holds requests that match until `release()`. */
  hold(match: (request: ProxiedRequest) => boolean): void;
  /** Requests held right now. */
  held(): number;
  release(): void;
  /** Delays requests of `operation` by `ms` before passing them on. */
  delay(operation: string, ms: number): void;
  stop(): Promise<void>;
}

export async function startDynamoProxy(target: string): Promise<DynamoProxy> {
  const upstream = new URL(target);
  const requests: ProxiedRequest[] = [];
  const delays = new Map<string, number>();
  let holding: ((request: ProxiedRequest) => boolean) | undefined;
  const waiting: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', c => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const request = { operation: String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '', body: body.toString() };
      requests.push(request);
      if (holding?.(request)) {
        await new Promise<void>(resolve => waiting.push(resolve));
      }
      const ms = delays.get(request.operation) ?? 0;
      if (ms > 0) {
        await new Promise(r => setTimeout(r, ms));
      }
      const options = { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers };
      const forward = http.request(options, answer => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.on('error', () => res.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    hold: match => { holding = match; },
    held: () => waiting.length,
    release: () => {
      holding = undefined;
      waiting.splice(0).forEach(resolve => resolve());
    },
    delay: (operation, ms) => { delays.set(operation, ms); },
    stop: async () => {
      waiting.splice(0).forEach(resolve => resolve());
      server.closeAllConnections();
      await new Promise<void>(resolve => server.close(() => resolve()));
    },
  };
}
