/**
 * Server reflection per listener, asked with the reflection protocol itself (grpc.reflection.v1,
 * the one grpcurl speaks): the workload listener lists TokenExchange and health, never Admin; the
 * admin listener lists Admin and health, never TokenExchange.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceUnderTest, type ServiceUnderTest } from '../service_under_test.js';

const reflectionProtoDir = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection/package.json')), 'build/proto');
type ReflectionClient = grpc.Client & { ServerReflectionInfo(): grpc.ClientDuplexStream<Record<string, unknown>, Record<string, unknown>> };
const ServerReflection = (grpc.loadPackageDefinition(protoLoader.loadSync('grpc/reflection/v1/reflection.proto', { includeDirs: [reflectionProtoDir], keepCase: true })) as unknown as {
  grpc: { reflection: { v1: { ServerReflection: new (address: string, creds: grpc.ChannelCredentials) => ReflectionClient } } };
}).grpc.reflection.v1.ServerReflection;

/** One reflection request on a fresh stream; the response message. */
function reflect(port: number, request: Record<string, unknown>): Promise<Record<string, unknown>> {
  const client = new ServerReflection(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const stream = client.ServerReflectionInfo();
    stream.on('data', (msg: Record<string, unknown>) => {
      resolve(msg);
      stream.end();
      client.close();
    });
    stream.on('error', (e) => {
      client.close();
      reject(e);
    });
    stream.write(request);
  });
}

const listed = async (port: number): Promise<string[]> => {
  const res = (await reflect(port, { list_services: '' })) as { list_services_response?: { service: { name: string }[] } };
  return res.list_services_response!.service.map((s) => s.name).sort();
};

let svc: ServiceUnderTest;
beforeAll(async () => {
  svc = await startServiceUnderTest();
});
afterAll(async () => {
  await svc?.close();
});

describe('reflection lists only the services of its listener', () => {
  it('workload listener: TokenExchange and health, not Admin', async () => {
    expect(await listed(svc.stint.grpcPort)).toEqual(['grpc.health.v1.Health', 'stint.v1.TokenExchange']);
  });

  it('admin listener: Admin and health, not TokenExchange', async () => {
    expect(await listed(svc.stint.adminPort)).toEqual(['grpc.health.v1.Health', 'stint.v1.Admin']);
  });

  it('a listener still describes the services it lists (grpcurl describe)', async () => {
    const res = (await reflect(svc.stint.grpcPort, { file_containing_symbol: 'stint.v1.TokenExchange' })) as { file_descriptor_response?: { file_descriptor_proto: Buffer[] } };
    expect(res.file_descriptor_response!.file_descriptor_proto.length).toBeGreaterThan(0);
  });
});
