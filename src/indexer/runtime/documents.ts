import { convertToNative } from '@aws-sdk/util-dynamodb';
import type { AttributeValue, DynamoDBRecord } from 'aws-lambda';
import type { FieldSpec, FieldType, IndexerConfig } from './config';

/** Turns DynamoDB stream records into `_bulk` actions: whole-document upserts and deletes by a stable id. */

export interface BulkEntry {
  /** Stream sequence number of the record, reported back to Lambda when the entry fails. */
  readonly sequenceNumber: string;
  readonly action: 'index' | 'delete';
  readonly id: string;
  /** Present for `index`. */
  readonly document?: Record<string, unknown>;
}

export type Planned =
  | { readonly kind: 'entry'; readonly entry: BulkEntry; readonly droppedFields: readonly string[] }
  | { readonly kind: 'skip'; readonly reason: string; readonly detail: string };

type Image = Record<string, AttributeValue>;
type SdkAttributeValue = Parameters<typeof convertToNative>[0];

/** OpenSearch rejects longer `_id`s; such a record could never be indexed. */
const MAX_ID_BYTES = 512;

export function indexMapping(fields: readonly FieldSpec[]): { mappings: { properties: Record<string, { type: FieldType }> } } {
  const properties: Record<string, { type: FieldType }> = {};
  for (const field of fields) {
    properties[field.name] = { type: field.type };
  }
  // Mappings at the top level of the create-index body; inside `settings` OpenSearch would not apply them.
  return { mappings: { properties } };
}

/** The bulk action for one record, or why it has to be skipped. */
export function planRecord(record: DynamoDBRecord, config: IndexerConfig): Planned {
  const sequenceNumber = record.dynamodb?.SequenceNumber;
  if (!sequenceNumber) {
    return { kind: 'skip', reason: 'missing_sequence_number', detail: 'record has no dynamodb.SequenceNumber' };
  }
  const id = documentId(record, config.documentId);
  if (!id.ok) {
    return { kind: 'skip', reason: 'missing_id_attribute', detail: id.problem };
  }
  switch (record.eventName) {
    case 'REMOVE':
      return { kind: 'entry', entry: { sequenceNumber, action: 'delete', id: id.value }, droppedFields: [] };
    case 'INSERT':
    case 'MODIFY': {
      const image = record.dynamodb?.NewImage;
      if (!image) {
        return { kind: 'skip', reason: 'missing_new_image', detail: 'the stream view type must include new images' };
      }
      const { document, dropped } = buildDocument(image, config.fields);
      return { kind: 'entry', entry: { sequenceNumber, action: 'index', id: id.value, document }, droppedFields: dropped };
    }
    default:
      return { kind: 'skip', reason: 'unknown_event_name', detail: `eventName ${JSON.stringify(record.eventName)}` };
  }
}

/**
 * The id attributes' values joined with `:`, each taken from the new image, else the old one, else the
 * keys (REMOVE records carry no new image). Deterministic ids make replays overwrite instead of duplicate.
 */
export function documentId(record: DynamoDBRecord, attributes: readonly string[]): { ok: true; value: string } | { ok: false; problem: string } {
  const images = [record.dynamodb?.NewImage, record.dynamodb?.OldImage, record.dynamodb?.Keys];
  const parts: string[] = [];
  for (const name of attributes) {
    const attr = images.map(image => image?.[name]).find(a => a !== undefined);
    const value = attr?.S ?? attr?.N ?? attr?.B;
    if (value === undefined || value === '') {
      return { ok: false, problem: `id attribute ${JSON.stringify(name)} is missing, empty or not a string, number or binary` };
    }
    parts.push(value);
  }
  const value = parts.join(':');
  if (Buffer.byteLength(value) > MAX_ID_BYTES) {
    return { ok: false, problem: `document id is longer than ${MAX_ID_BYTES} bytes` };
  }
  return { ok: true, value };
}

/**
 * Only the configured fields, converted from DynamoDB JSON. A value that does not fit its mapped type is
 * dropped (and named in `dropped`) rather than sent: OpenSearch would reject the whole document on every
 * retry and hold up the shard.
 */
export function buildDocument(image: Image, fields: readonly FieldSpec[]): { document: Record<string, unknown>; dropped: string[] } {
  const document: Record<string, unknown> = {};
  const dropped: string[] = [];
  for (const field of fields) {
    const attr = image[field.name];
    if (attr === undefined) {
      continue;
    }
    const value = coerce(convertToNative(attr as SdkAttributeValue, { wrapNumbers: nativeNumber }), field.type);
    if (value === undefined) {
      dropped.push(field.name);
    } else {
      document[field.name] = value;
    }
  }
  return { document, dropped };
}

/** Numbers stay JSON numbers; integers beyond 2^53 stay exact as strings, which OpenSearch coerces for `long`. */
function nativeNumber(text: string): number | string {
  const n = Number(text);
  return Number.isInteger(n) && !Number.isSafeInteger(n) ? text : n;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/;

function coerce(value: unknown, type: FieldType): unknown {
  if (value === null) {
    return null; // NULL attribute: indexed as a missing value
  }
  // Lists and sets become arrays, which OpenSearch indexes as several values of the field's type.
  if (Array.isArray(value) || value instanceof Set) {
    const items = [...value].map(item => coerce(item, type));
    return items.some(item => item === undefined || item === null || Array.isArray(item)) ? undefined : items;
  }
  switch (type) {
    case 'search_as_you_type':
    case 'text':
    case 'keyword':
      return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
    case 'long':
    case 'double':
      return typeof value === 'number' || (typeof value === 'string' && /^-?\d+$/.test(value)) ? value : undefined;
    case 'boolean':
      return typeof value === 'boolean' ? value : undefined;
    case 'date':
      return typeof value === 'number' || (typeof value === 'string' && ISO_DATE.test(value)) ? value : undefined;
  }
}

/** NDJSON `_bulk` body: action line, then the source line for `index`; OpenSearch requires the final newline. */
export function bulkBody(entries: readonly BulkEntry[]): string {
  const lines: string[] = [];
  for (const entry of entries) {
    lines.push(JSON.stringify({ [entry.action]: { _id: entry.id } }));
    if (entry.action === 'index') {
      lines.push(JSON.stringify(entry.document ?? {}));
    }
  }
  return lines.map(line => `${line}\n`).join('');
}
