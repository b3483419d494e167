/**
 * The OpenSearch type of an indexed field.
 */
export enum IndexFieldType {
  /** Text analysed for search-as-you-type: prefix queries match word starts and `_2gram`/`_3gram` shingles. */
  SEARCH_AS_YOU_TYPE = 'search_as_you_type',
  /** Full text. */
  TEXT = 'text',
  /** An exact value (ids, rooms, user names); the only type a search filter can use. */
  KEYWORD = 'keyword',
  /** A date: ISO 8601 text or epoch milliseconds. */
  DATE = 'date',
  /** A 64-bit integer. */
  LONG = 'long',
  /** A double-precision number. */
  DOUBLE = 'double',
  /** A boolean. */
  BOOLEAN = 'boolean',
}

/**
 * A table attribute that `StreamIndexer` copies into each document, and how it is indexed and queried.
 */
export interface IndexField {
  /** The attribute name, used as the document field name. */
  readonly name: string;
  /** The field's type in the index mapping. */
  readonly type: IndexFieldType;
  /**
   * Whether the search API's `q` matches this field (prefix search). Only text fields can be searchable.
   * @default - true for SEARCH_AS_YOU_TYPE and TEXT fields, false otherwise
   */
  readonly searchable?: boolean;
  /**
   * Whether the search API accepts `?<name>=<value>` as an exact-match filter on this field (e.g. `room`).
   * Only KEYWORD fields can be filters.
   * @default false
   */
  readonly filterable?: boolean;
}
