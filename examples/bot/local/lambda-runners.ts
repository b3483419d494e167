import * as http from 'http';
import { AddressInfo } from 'net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { BotMessaging } from '../server/messaging';

/**
 * LOCAL STAND-INS for how AWS invokes the bot's two functions, for tests and `npm run dev bot`:
 * an SQS event source mapping (poll the work queue, invoke with a batch, delete what succeeded, leave the
 * `batchItemFailures` for redelivery) and an HTTP API with a Lambda proxy integration (payload format 2.0).
 */

export interface LocalEventSource {
  stop(): Promise<void>;
}

/** Polls `queueUrl` and feeds batches of up to `batchSize` records to `handler`, as Lambda's poller does. */
export function pollQueueIntoHandler(
  messaging: BotMessaging, queueUrl: string, handler: (event: SQSEvent) => Promise<SQSBatchResponse>, batchSize = 10,
): LocalEventSource {
  const stopping = new AbortController();
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      let messages;
      try {
        messages = await messaging.receive(queueUrl, { max: batchSize, waitSeconds: 20, signal: stopping.signal });
      } catch {
        if (stopping.signal.aborted) {
          return;
        }
        await new Promise(r => setTimeout(r, 200));
        continue;
      }
      if (messages.length === 0) {
        continue;
      }
      const event: SQSEvent = {
        Records: messages.map((m, i) => ({
          messageId: `local-${i}-${m.receiptHandle}`,
          receiptHandle: m.receiptHandle,
          body: m.body,
          attributes: {
            ApproximateReceiveCount: String(m.receiveCount),
            SentTimestamp: String(m.sentAt),
            SenderId: 'local',
            ApproximateFirstReceiveTimestamp: String(Date.now()),
          },
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${queueUrl.split('/').pop()}`,
          awsRegion: 'us-east-1',
        })),
      };
      let failed = new Set(event.Records.map(r => r.messageId));
      try {
        const result = await handler(event);
        failed = new Set(result.batchItemFailures.map(f => f.itemIdentifier));
      } catch {
        // A thrown invocation fails the whole batch, as in Lambda.
      }
      await Promise.all(event.Records.filter(r => !failed.has(r.messageId))
        .map(r => messaging.delete(queueUrl, r.receiptHandle).catch(() => undefined)));
    }
  })();
  return {
    async stop() {
      stopping.abort();
      await loop;
    },
  };
}

export interface LocalHttpApi {
  readonly url: string;
  stop(): Promise<void>;
}

/** Serves `POST <path>` through `handler` as an HTTP API's Lambda proxy integration would. */
export async function serveHttpApi(
  path: string, handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>, port = 0,
): Promise<LocalHttpApi> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== path || req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // API Gateway takes payloads up to 10 MB; the function refuses far less itself.
      if (size > 10 * 1024 * 1024) {
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      const event = {
        version: '2.0',
        routeKey: `POST ${path}`,
        rawPath: url.pathname,
        rawQueryString: url.search.slice(1),
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v ?? ''])),
        body: Buffer.concat(chunks).toString('base64'),
        isBase64Encoded: true,
        requestContext: { http: { method: 'POST', path: url.pathname, protocol: 'HTTP/1.1', sourceIp: req.socket.remoteAddress ?? '', userAgent: '' } },
      } as unknown as APIGatewayProxyEventV2;
      handler(event).then(result => {
        res.writeHead(result.statusCode ?? 200, result.headers as http.OutgoingHttpHeaders).end(result.body ?? '');
      }, () => res.writeHead(502, { 'content-type': 'application/json' }).end('{"message":"Internal Server Error"}'));
    });
  });
  await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>(resolve => server.close(() => resolve()));
    },
  };
}
