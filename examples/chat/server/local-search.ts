import * as http from 'http';
import { ChatMessage } from './protocol';
import { sendJson } from '../../kit';

/**
 * LOCAL STAND-IN, for `npm run dev chat` and tests only (`CHAT_LOCAL_SEARCH=1`): an in-process
 * imitation of the StreamIndexer search API, so the page's search box works without AWS. In AWS,
 * CloudFront sends `/search` to the real search function (DynamoDB stream → OpenSearch) and this code is
 * never enabled.
 *
 * It answers `GET /search?q=&room=&limit=` in the search API's format,
 * `{"hits":[{"id":"<room>:<message>","score":n,"document":{room,message,username,text,time}}]}`, errors as
 * `{"error":{"code":"invalid_request","message":"..."}}` with 400, and marks every answer with
 * `x-search-backend: local-stand-in`. It knows only the messages this server process stored since it
 * started (at most 10,000), and matches when every word of `q` is the start of a word of the text.
 */
export class LocalSearch {
  public static readonly HEADER = { 'x-search-backend': 'local-stand-in' } as const;
  private readonly docs: Array<{ doc: ChatMessage; words: string[] }> = [];

  constructor(private readonly capacity = 10_000) {}

  /** Indexes a stored message. */
  public add(doc: ChatMessage): void {
    this.docs.push({ doc, words: words(doc.text) });
    if (this.docs.length > this.capacity) {
      this.docs.shift();
    }
  }

  /** Matching messages, best first (then newest first). */
  public search(q: string, limit: number, room?: string): Array<{ id: string; score: number; document: ChatMessage }> {
    const terms = words(q);
    const hits: Array<{ id: string; score: number; document: ChatMessage }> = [];
    for (const { doc, words: docWords } of this.docs) {
      if (room !== undefined && doc.room !== room) {
        continue;
      }
      let score = 0;
      for (const term of terms) {
        const exact = docWords.includes(term);
        if (!exact && !docWords.some(w => w.startsWith(term))) {
          score = 0;
          break;
        }
        score += exact ? 2 : 1;
      }
      if (score > 0) {
        hits.push({ id: `${doc.room}:${doc.message}`, score, document: doc });
      }
    }
    hits.sort((a, b) => b.score - a.score || b.document.time - a.document.time);
    return hits.slice(0, limit);
  }

  /** Serves `GET /search`; resolves false for any other request. */
  public handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): boolean {
    if (url.pathname !== '/search' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      return false;
    }
    const headers = { ...LocalSearch.HEADER, 'cache-control': 'no-store' };
    const refuse = (message: string) => sendJson(res, 400, { error: { code: 'invalid_request', message } }, headers);
    const q = (url.searchParams.get('q') ?? '').trim();
    const room = url.searchParams.get('room') ?? undefined;
    const limitText = url.searchParams.get('limit');
    const limit = limitText === null ? 10 : Number(limitText);
    if (q.length === 0 || q.length > 200) {
      refuse('q must have 1-200 characters');
    } else if (words(q).length === 0) {
      refuse('q must contain a letter or digit');
    } else if (!Number.isInteger(limit) || limit < 1 || limit > 50) {
      refuse('limit must be a whole number from 1 to 50');
    } else if (room !== undefined && (room.length === 0 || room.length > 64)) {
      refuse('room must have 1-64 characters');
    } else {
      sendJson(res, 200, { hits: this.search(q, limit, room) }, headers);
    }
    return true;
  }
}

function words(text: string): string[] {
  return text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}
