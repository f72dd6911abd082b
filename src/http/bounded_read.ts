/**
 * Reading an upstream's HTTP answer whole, up to a size cap: the clients Stint and its sidecar run
 * against STS, cloud metadata services and the like never buffer an unbounded answer. A declared
 * Content-Length over the cap is refused before any byte is read; a stream that grows past it is
 * destroyed. Dependency-free, for both programs.
 */
import type { IncomingMessage } from 'node:http';

/**
 * The body of `res`, at most `maxBytes`. Over the cap, `res` is destroyed and the promise rejects
 * with `tooLarge()`; a stream error rejects with that error (the caller maps it).
 */
export function readBounded(res: IncomingMessage, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (Number(res.headers['content-length'] ?? 0) > maxBytes) {
      res.destroy();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    res.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > maxBytes) {
        over = true;
        res.destroy();
        reject(tooLarge());
      } else chunks.push(c);
    });
    res.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    res.on('error', reject);
  });
}
