/** A bare @grpc/grpc-js unary echo server (the benchmark baseline); prints its port on stdout. */
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const definition = protoLoader.loadSync(resolve(import.meta.dirname, '../../../test/bench/echo.proto'));
const proto = grpc.loadPackageDefinition(definition) as unknown as { bench: { Echo: grpc.ServiceClientConstructor } };
const server = new grpc.Server();
server.addService(proto.bench.Echo.service, {
  Echo: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, call.request),
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`${port}\n`);
});
process.on('SIGTERM', () => server.forceShutdown());
