import { createReadStream, promises as fs } from 'fs';
import { ServerResponse } from 'http';
import * as path from 'path';
import { HttpError } from './http';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/**
 * Serves files from `root` for local runs (in AWS, CdnFrontDoor serves them from S3). Resolves false when
 * the path is not a file under `root`, so the caller can answer 404.
 */
export async function serveStatic(root: string, urlPath: string, res: ServerResponse): Promise<boolean> {
  let relative: string;
  try {
    relative = decodeURIComponent(urlPath === '/' ? '/index.html' : urlPath);
  } catch {
    throw new HttpError(400, 'bad_url', 'the path is malformed (check its percent-encoding)');
  }
  const file = path.resolve(root, '.' + relative);
  if (!file.startsWith(path.resolve(root) + path.sep)) {
    return false;
  }
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat?.isFile()) {
    return false;
  }
  res.writeHead(200, {
    'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'content-length': stat.size,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  createReadStream(file).pipe(res);
  return true;
}
