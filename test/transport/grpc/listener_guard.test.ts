/**
 * No call ends the service through its gRPC listeners: an error whose public detail holds a
 * character gRPC trailers cannot carry (a claim value such as a non-ASCII branch name) used to
 * throw inside the error mapping and end the process; now it is mapped. A bounded fuzz of every
 * method of both listeners (random payloads, well-formed and not, random metadata, unknown
 * methods) always gets a status; health and an admin call succeed after.
 */
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyDeniedError, StintError } from '../../../src/errors.js';
import { toGrpcError } from '../../../src/transport/errors.js';
import { loadStintProto } from '../../../src/grpc/stint_proto.js';
import { StintGrpcClient } from '../../support/grpc_client.js';
import { startServiceUnderTest, type ServiceUnderTest } from '../service_under_test.js';

let svc: ServiceUnderTest;
let clients: grpc.Client[];
beforeAll(async () => {
  svc = await startServiceUnderTest();
  clients = [new grpc.Client(`127.0.0.1:${svc.stint.grpcPort}`, grpc.credentials.createInsecure()), new grpc.Client(`127.0.0.1:${svc.stint.adminPort}`, grpc.credentials.createInsecure())];
});
afterAll(async () => {
  for (const c of clients ?? []) c.close();
  await svc?.close();
});

describe('gRPC error mapping', () => {
  it('a detail with characters trailers cannot carry is replaced, not thrown on', () => {
    const denied = new PolicyDeniedError('ERR_POLICY_DENIED', 'denied', 'main-only', 'no_rule_matched', { failed: [{ field: 'ref', expected: 'refs/heads/main', actual: 'refs/heads/é\n' }] });
    const mapped = toGrpcError(denied);
    expect(mapped.metadata!.get('stint-error-code')).toEqual(['ERR_POLICY_DENIED']);
    expect(mapped.metadata!.get('stint-failed')).toEqual(['ref refs/heads/main (got refs/heads/??)']);
    expect(toGrpcError(new StintError('ERR_INVALID_REQUEST', 'x', { field: 'ünïcode' })).metadata!.get('stint-field')).toEqual(['?n?code']);
  });
});

const definition = loadStintProto();
const METHODS = Object.entries(definition).flatMap(([service, d]) =>
  typeof d === 'object' && d && 'format' in d ? [] : Object.entries(d as grpc.ServiceDefinition).map(([name, m]) => ({ service, name, path: m.path, serialize: m.requestSerialize as (v: unknown) => Buffer })),
);
const FIELDS = ['subject_token', 'subject_token_type', 'credentials', 'context', 'grant_id', 'identity', 'reason', 'note', 'state', 'limit', 'since', 'type', 'stuck', 'request_id', 'event_id'];
const value = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('%E0%A4%A', 'é', '', '24h', 'eyJhbGciOiJub25lIn0.e30.', 'active'), fc.integer(), fc.boolean(), fc.constant([{ kind: 'stint-jwt', audience: 'é', ttl_seconds: -1 }]));
const callArb = fc.record({
  method: fc.oneof(fc.constantFrom(...METHODS), fc.record({ service: fc.constant('x'), name: fc.constant('x'), path: fc.constantFrom('/stint.v1.Nope/Call', '/%E0%A4%A/x', '/grpc.health.v1.Health/Check'), serialize: fc.constant(null) })),
  request: fc.dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 5 }),
  raw: fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 200 })),
  authorization: fc.constantFrom(null, 'Bearer ', 'Bearer %E0%A4%A', 'Basic x', 'Bearer wrong'),
  listener: fc.constantFrom(0, 1),
});

function call(client: grpc.Client, path: string, payload: Buffer, md: grpc.Metadata): Promise<grpc.ServiceError | null> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, payload, md, { deadline: Date.now() + 10_000 }, (err) => resolve(err));
  });
}

describe('fuzz: the workload and admin gRPC listeners', () => {
  it('every random call gets a status and no handler fails; health and ListGrants succeed after', async () => {
    expect(METHODS.length).toBeGreaterThan(5);
    await fc.assert(
      fc.asyncProperty(callArb, async ({ method, request, raw, authorization, listener }) => {
        let payload: Buffer;
        try {
          payload = raw ? Buffer.from(raw) : method.serialize ? method.serialize(request) : Buffer.alloc(0);
        } catch {
          payload = Buffer.from(raw ?? []);
        }
        const md = new grpc.Metadata();
        if (authorization) md.set('authorization', authorization);
        const err = await call(clients[listener]!, method.path, payload, md);
        if (err) expect(err.metadata.get('stint-error-code')).not.toContain('ERR_INTERNAL');
      }),
      { numRuns: 200, seed: 14 },
    );
    expect(svc.logs.filter((l) => l.msg === 'request handler failed')).toEqual([]);
    const health = await call(clients[0]!, '/grpc.health.v1.Health/Check', Buffer.alloc(0), new grpc.Metadata());
    expect(health).toBeNull();
    const admin = new StintGrpcClient(`127.0.0.1:${svc.stint.grpcPort}`, `127.0.0.1:${svc.stint.adminPort}`);
    try {
      expect(await admin.adminCall('ListGrants', {}, svc.adminToken)).toMatchObject({ ok: true });
    } finally {
      admin.close();
    }
  });
});
