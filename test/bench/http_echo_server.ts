/**
 * The HTTP yardstick: a bare node:http server that reads the whole request body and answers 200
 * with a JSON body of the size given as argv[2] (the size Stint's /token answer has), keep-alive;
 * prints its port on stdout.
 */
import { createServer } from 'node:http';

const size = Math.max(2, Number(process.argv[2] ?? 1024));
const body = Buffer.from(`"${'x'.repeat(size - 2)}"`);
const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
});
