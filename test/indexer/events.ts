import type { APIGatewayProxyEventV2, AttributeValue, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';

/** Builders for the Lambda events the StreamIndexer handlers receive, shaped as AWS delivers them. */

type Image = Record<string, AttributeValue>;

export interface MessageItem {
  readonly room: string;
  readonly message: string;
  readonly [attribute: string]: AttributeValue | string;
}

/** DynamoDB JSON of an item whose `room` and `message` are strings and the rest given as AttributeValues. */
export function image(item: MessageItem): Image {
  const out: Image = {};
  for (const [name, value] of Object.entries(item)) {
    out[name] = typeof value === 'string' ? { S: value } : value;
  }
  return out;
}

export function keysOf(item: { room: string; message: string }): Image {
  return { room: { S: item.room }, message: { S: item.message } };
}

let sequence = 111_100_000_000_000_000_000n;

/** A stream record with the next sequence number (NEW_AND_OLD_IMAGES view). */
export function record(eventName: 'INSERT' | 'MODIFY' | 'REMOVE', item: MessageItem, old?: MessageItem): DynamoDBRecord {
  sequence += 100n;
  const dynamodb: DynamoDBRecord['dynamodb'] = {
    ApproximateCreationDateTime: 1_700_000_000,
    Keys: keysOf(item),
    SequenceNumber: String(sequence),
    SizeBytes: 100,
    StreamViewType: 'NEW_AND_OLD_IMAGES',
  };
  if (eventName !== 'REMOVE') {
    dynamodb.NewImage = image(item);
  }
  if (eventName === 'REMOVE' || old) {
    dynamodb.OldImage = image(old ?? item);
  }
  return {
    eventID: `event-${sequence}`,
    eventName,
    eventSource: 'aws:dynamodb',
    eventVersion: '1.1',
    awsRegion: 'eu-west-1',
    eventSourceARN: 'arn:aws:dynamodb:eu-west-1:123456789012:table/Messages/stream/2024-01-01T00:00:00.000',
    dynamodb,
  };
}

export function streamEvent(...records: DynamoDBRecord[]): DynamoDBStreamEvent {
  return { Records: records };
}

export function sequenceNumbers(records: DynamoDBRecord[]): string[] {
  return records.map(r => r.dynamodb!.SequenceNumber!);
}

/** An HTTP API (payload format 2.0) request for GET /search with the given raw query string. */
export function httpEvent(rawQueryString: string, method = 'GET'): APIGatewayProxyEventV2 {
  const queryStringParameters: Record<string, string> = {};
  // API Gateway joins repeated parameters with commas.
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    queryStringParameters[name] = name in queryStringParameters ? `${queryStringParameters[name]},${value}` : value;
  }
  return {
    version: '2.0',
    routeKey: 'GET /search',
    rawPath: '/search',
    rawQueryString,
    headers: { host: 'api.example.com' },
    queryStringParameters: rawQueryString ? queryStringParameters : undefined,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: { method, path: '/search', protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'jest' },
      requestId: 'request',
      routeKey: 'GET /search',
      stage: '$default',
      time: '01/Jan/2024:00:00:00 +0000',
      timeEpoch: 1_704_067_200_000,
    },
    isBase64Encoded: false,
  };
}
