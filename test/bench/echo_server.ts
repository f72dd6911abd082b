/**
 * The gRPC yardstick: a bare @grpc/grpc-js unary server (no interceptor, bound by grpc-js itself)
 * with the server options of Stint's gRPC listeners (src/transport/grpc/options.ts: keepalive,
 * connection idle and age limits, channelz off) and the proto-loader options Stint uses, that
 * answers each request with a payload of the size it asks for (the size of Stint's answer);
 * prints its port on stdout.
 */
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_GRPC_LIMITS } from '../../src/net/connections.js';
import { grpcServerOptions } from '../../src/transport/grpc/options.js';
import { loadEchoProto } from './grpc_load.js';

const proto = loadEchoProto();
const replies = new Map<number, { payload: Buffer }>();
const reply = (size: number): { payload: Buffer } => {
  let r = replies.get(size);
  if (!r) {
    // The payload makes the encoded answer `size` bytes long (tag and length included).
    let n = size;
    while (n > 0 && proto.bench.Echo.service.Echo!.responseSerialize({ payload: Buffer.alloc(n) }).length > size) n--;
    r = { payload: Buffer.alloc(n, 7) };
    replies.set(size, r);
  }
  return r;
};
const server = new grpc.Server(grpcServerOptions(DEFAULT_GRPC_LIMITS));
server.addService(proto.bench.Echo.service, {
  Echo: (call: grpc.ServerUnaryCall<{ reply_size?: number }, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, reply(call.request.reply_size ?? 1024)),
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`${port}\n`);
});
process.on('SIGTERM', () => server.forceShutdown());
