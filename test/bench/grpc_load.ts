/**
 * The gRPC load generator of `npm run bench` (exchange.bench.ts), a separate process (forked with
 * an IPC channel) so that the load is generated as an outside client would and its CPU is not the
 * service's: it reads the pre-minted subject tokens from the file given as argv[2] and, for each
 * `run` message, calls Stint's TokenExchange.Exchange (or the bare echo, with messages of the same
 * sizes) over one HTTP/2 connection per target (as a workload's client keeps), closed-loop at the
 * given concurrency, and answers with the LoadResult and its own CPU time per call.
 *   { op: 'run', target, client, port, mode, concurrency, calls, reset } -> GrpcLoadResult
 *   { op: 'probe', port } -> { request, response } (encoded sizes of one Stint exchange)
 * Two clients: `grpc-js` (the @grpc/grpc-js client a workload would use: a channel, its call
 * objects, interceptors and codecs) and `http2`, the gRPC wire protocol spoken with node:http2
 * over requests encoded before the run (the same bytes), which costs a fraction of grpc-js's CPU
 * per call: on a 2-core machine a grpc-js client spends more per call than a bare grpc-js server,
 * so the yardstick would measure the client. The http2 client counts a call as failed unless it
 * ends with grpc-status 0 and a message.
 * Cold takes the next unused token of the pool for each call; repeated always the first one.
 */
import { readFileSync } from 'node:fs';
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { runLoad, type LoadResult } from './load.js';
import { API_AUDIENCE, ROOT } from './common.js';
import { loadStintProto } from '../../src/grpc/stint_proto.js';

/** One load run asked of this process. */
export interface GrpcLoadJob {
  readonly op: 'run';
  /** Stint's Exchange, or the bare echo answering `echoSizes`. */
  readonly target: 'stint' | 'echo';
  /** The client library (default http2). */
  readonly client?: 'grpc-js' | 'http2';
  readonly port: number;
  readonly mode: 'cold' | 'repeated';
  readonly concurrency: number;
  readonly calls: number;
  /** Start the cold pool over (for a fresh Stint, which has seen none of it). */
  readonly reset: boolean;
  /** For the echo: the request and answer sizes (bytes) of one Stint exchange. */
  readonly echoSizes?: MessageSizes;
}

/** The encoded sizes of one exchange's request and answer. */
export interface MessageSizes {
  readonly request: number;
  readonly response: number;
}

/** A probe of the sizes of one Stint exchange (with the repeated token). */
export interface GrpcProbeJob {
  readonly op: 'probe';
  readonly port: number;
}

/** A run's result, with the CPU time this load process spent on it (µs per call). */
export interface GrpcLoadResult extends LoadResult {
  readonly loaderCpuUsPerCall: number;
}

type Unary = (req: unknown) => Promise<unknown>;
type Constructor = grpc.ServiceClientConstructor;

/**
 * The proto-loader options of the echo's server and client: those Stint's server and clients load
 * stint.proto with (src/grpc/stint_proto.ts), so that both decode into the same shape of object.
 */
export const ECHO_PROTO_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, arrays: true, objects: true };

/** Load the echo's service definition (test/bench/echo.proto) with ECHO_PROTO_OPTIONS. */
export function loadEchoProto(): { bench: { Echo: Constructor } } {
  return grpc.loadPackageDefinition(protoLoader.loadSync(join(ROOT, 'test/bench/echo.proto'), ECHO_PROTO_OPTIONS)) as unknown as { bench: { Echo: Constructor } };
}

/** Build the ExchangeRequest of one token (what the sidecar sends). */
export const exchangeRequest = (token: string): Record<string, unknown> => ({ subject_token: token, credentials: [{ kind: 'stint-jwt', audience: API_AUDIENCE }] });

const clients = new Map<string, grpc.Client>();
function caller(ctor: Constructor, method: string, port: number): Unary {
  const key = `${ctor.serviceName}:${port}`;
  let client = clients.get(key);
  if (!client) {
    client = new ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    clients.set(key, client);
  }
  const fn = (client as unknown as Record<string, (r: unknown, cb: (e: Error | null, v: unknown) => void) => void>)[method]!.bind(client);
  return (req) => new Promise((res, rej) => fn(req, (e, v) => (e ? rej(e) : res(v))));
}

/** How long the http2 client waits for one answer. */
const CALL_TIMEOUT_MS = 10_000;

/** One HTTP/2 connection per port for the http2 client. */
const sessions = new Map<number, ClientHttp2Session>();

/** A unary gRPC call over node:http2 with an already encoded message: `path`, then `message` framed (5-byte prefix). */
function rawCaller(port: number, path: string): (message: Buffer) => Promise<void> {
  let session = sessions.get(port);
  if (!session || session.closed || session.destroyed) {
    // A new connection (a server on a port used before is another server).
    const opened = connect(`http://127.0.0.1:${port}`);
    const forget = (): void => void (sessions.get(port) === opened && sessions.delete(port));
    opened.on('error', forget);
    opened.on('close', forget);
    opened.on('goaway', forget);
    sessions.set(port, (session = opened));
  }
  const s = session;
  const headers = { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' };
  return (message) =>
    new Promise((res, rej) => {
      const stream = s.request(headers);
      let status: unknown;
      let bytes = 0;
      stream.on('response', (h) => (status = h['grpc-status'] ?? status)); // trailers-only answers carry it here
      stream.on('trailers', (t) => (status = t['grpc-status']));
      stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
      stream.on('error', rej);
      stream.on('close', () => (status === '0' && bytes > 5 ? res() : rej(new Error(`grpc-status ${String(status)}, ${bytes} bytes`))));
      // A call unanswered for 10 s is cancelled and counted as an error: a stalled run ends.
      stream.setTimeout(CALL_TIMEOUT_MS, () => stream.close(constants.NGHTTP2_CANCEL));
      stream.end(message);
    });
}

/** `message` with the gRPC frame prefix (uncompressed, 4-byte big-endian length). */
function framed(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(message.length + 5);
  out.writeUInt8(0, 0);
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** The encoded size of `message` as `ctor`'s `method` (request or response side). */
function encodedSize(ctor: Constructor, method: string, side: 'request' | 'response', message: unknown): number {
  const def = ctor.service[method]!;
  return (side === 'request' ? def.requestSerialize(message) : def.responseSerialize(message)).length;
}

if (process.send) {
  const stintProto = grpc.loadPackageDefinition(loadStintProto()) as unknown as { stint: { v1: { TokenExchange: Constructor } } };
  const echoProto = loadEchoProto();
  const tokens = readFileSync(process.argv[2]!, 'utf8').split('\n').filter(Boolean);
  const requests = tokens.map(exchangeRequest);
  const Exchange = stintProto.stint.v1.TokenExchange;
  const encoded = requests.map((r) => framed(Exchange.service.Exchange!.requestSerialize(r)));
  let cursor = 1; // token 0 is the repeated one
  const echoRequests = new Map<string, unknown>();

  process.on('message', (job: GrpcLoadJob | GrpcProbeJob) => {
    void (async () => {
      if (job.op === 'probe') {
        const answer = await caller(Exchange, 'Exchange', job.port)(requests[0]);
        process.send!({ request: encodedSize(Exchange, 'Exchange', 'request', requests[0]), response: encodedSize(Exchange, 'Exchange', 'response', answer) } satisfies MessageSizes);
        return;
      }
      if (job.reset) cursor = 1;
      const raw = (job.client ?? 'http2') === 'http2';
      let call: () => Promise<unknown>;
      if (job.target === 'echo') {
        const sizes = job.echoSizes ?? { request: 1024, response: 1024 };
        const key = `${sizes.request}/${sizes.response}`;
        let req = echoRequests.get(key);
        if (!req) {
          // The payload makes the encoded request exactly as long as Stint's (tag, length and reply_size fields included).
          const Echo = echoProto.bench.Echo;
          let n = sizes.request;
          while (n > 0 && encodedSize(Echo, 'Echo', 'request', { payload: Buffer.alloc(n, 7), reply_size: sizes.response }) > sizes.request) n--;
          req = { payload: Buffer.alloc(n, 7), reply_size: sizes.response };
          echoRequests.set(key, req);
        }
        if (raw) {
          const message = framed(echoProto.bench.Echo.service.Echo!.requestSerialize(req));
          const echo = rawCaller(job.port, echoProto.bench.Echo.service.Echo!.path);
          call = () => echo(message);
        } else {
          const echo = caller(echoProto.bench.Echo, 'Echo', job.port);
          call = () => echo(req);
        }
      } else {
        const exchange = raw ? rawCaller(job.port, Exchange.service.Exchange!.path) : caller(Exchange, 'Exchange', job.port);
        const pool: readonly unknown[] = raw ? encoded : requests;
        call = () => {
          if (job.mode === 'repeated') return exchange(pool[0] as Buffer);
          if (cursor >= pool.length) {
            cursor = 1; // pool exhausted: start over (no longer cold; the pool is sized to avoid it)
            process.stderr.write('grpc_load: cold token pool exhausted, reusing tokens\n');
          }
          return exchange(pool[cursor++] as Buffer);
        };
      }
      const cpu0 = process.cpuUsage();
      const result = await runLoad(call, job.concurrency, job.calls);
      const cpu = process.cpuUsage(cpu0);
      process.send!({ ...result, loaderCpuUsPerCall: (cpu.user + cpu.system) / job.calls } satisfies GrpcLoadResult);
    })();
  });
  process.send({ ready: tokens.length });
}
