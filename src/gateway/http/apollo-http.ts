/** Plain node:http glue for Apollo Server (no framework): body reading and header conversion. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type HTTPGraphQLResponse } from '@apollo/server';

/** Largest request body accepted. @default 1 MiB */
export const MAX_BODY_BYTES = 1024 * 1024;

export class BodyTooLargeError extends Error {}

/**
 * The body of `req`, or BodyTooLargeError past {@link MAX_BODY_BYTES}. The request is not
 * destroyed then (leaving a `for await` over it would): a destroyed request loses its
 * socket before the 413 goes out, and a response that finishes without its socket leaves
 * the drain on shutdown waiting for it, then failing (Apollo's drainHttpServer). The rest of
 * the body is discarded, and the 413 closes the connection (see {@link sendJson}).
 */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      req.off('data', onData).off('end', onEnd);
      // Still flowing, without a listener: what else arrives is dropped.
      reject(new BodyTooLargeError(`The request body is over ${MAX_BODY_BYTES} bytes (1 MiB); send a smaller request (fewer or shorter values).`));
    };
    const onEnd = () => resolve(Buffer.concat(chunks).toString('utf8'));
    req.on('data', onData).once('end', onEnd).once('error', reject);
  });
}

export function headerMap(req: IncomingMessage): HeaderMap {
  const headers = new HeaderMap();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

/** Writes Apollo's answer. Never cached: an answer is one caller's, and live. */
export async function writeResponse(res: ServerResponse, r: HTTPGraphQLResponse): Promise<void> {
  res.setHeader('cache-control', 'no-store');
  for (const [key, value] of r.headers) res.setHeader(key, value);
  res.statusCode = r.status ?? 200;
  if (r.body.kind === 'complete') {
    res.end(r.body.string);
    return;
  }
  for await (const chunk of r.body.asyncIterator) res.write(chunk);
  res.end();
}

/** `close`: end the connection after this response (the request was not read to its end). */
export function sendJson(res: ServerResponse, status: number, body: unknown, close = false): void {
  res.writeHead(status, { 'content-type': 'application/json', ...(close ? { connection: 'close' } : {}) });
  res.end(JSON.stringify(body));
}
