/**
 * Exchange's own codec (src/transport/grpc/exchange_codec.ts) against protobufjs, the codec every
 * other Stint method and every client uses: an answer encodes to the very bytes protobufjs wrote
 * for the message the adapter built (so no client sees a change), and a request decodes to what
 * protobufjs's decoding gave the adapter, unknown fields included; a malformed request is refused
 * over the wire as before (INTERNAL, from grpc-js), then a good one is answered.
 */
import { connect } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStintProto } from '../../../src/grpc/stint_proto.js';
import type { ExchangeResult } from '../../../src/pipeline/exchange.js';
import { decodeExchangeRequest, encodeExchangeResponse } from '../../../src/transport/grpc/exchange_codec.js';
import { API_AUDIENCE, startServiceUnderTest, type ServiceUnderTest } from '../service_under_test.js';

const Exchange = (grpc.loadPackageDefinition(loadStintProto()) as unknown as { stint: { v1: { TokenExchange: grpc.ServiceClientConstructor } } }).stint.v1.TokenExchange;
const method = Exchange.service.Exchange!;

/** The message the adapter built for protobufjs before the codec (what clients have been receiving). */
function protobufjsMessage(result: ExchangeResult): unknown {
  const iso = (s: number | null): string => (s ? new Date(s * 1000).toISOString() : '');
  return {
    grant_id: result.issued[0]?.grant.id ?? '',
    credentials: result.issued.map((i) => ({
      grant_id: i.grant.id,
      kind: i.credential.kind,
      token: i.credential.token,
      token_type: i.credential.tokenType,
      fields: i.credential.fields,
      expires_at: iso(i.credential.expiresAt),
      renew_after: iso(i.credential.renewAfter),
      ttl_seconds: i.granted.ttlSeconds,
      ttl_capped: i.granted.ttlCapped,
      audience: i.granted.audience ?? '',
      target: i.granted.target ?? '',
      renewable: i.renewable,
    })),
    rule: result.rule,
    identity: result.identity.id,
    request_id: result.requestId,
  };
}

/** The request mapping the adapter applied to protobufjs's decoded object before the codec. */
function protobufjsFields(req: Record<string, unknown>): unknown {
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const ctx = (req.context ?? {}) as Record<string, unknown>;
  const creds = Array.isArray(req.credentials) ? (req.credentials as Record<string, unknown>[]) : [];
  return {
    subjectToken: str(req.subject_token),
    subjectTokenType: str(req.subject_token_type),
    credentials: creds.map((c) => ({
      kind: str(c.kind),
      audience: str(c.audience) || undefined,
      target: str(c.target) || undefined,
      ttlSeconds: typeof c.ttl_seconds === 'number' && c.ttl_seconds > 0 ? c.ttl_seconds : undefined,
      scopes: Array.isArray(c.scopes) && c.scopes.length ? (c.scopes as string[]) : undefined,
    })),
    context: { reason: str(ctx.reason) || undefined, ticket: str(ctx.ticket) || undefined, runId: str(ctx.run_id) || undefined },
  };
}

type Issued = ExchangeResult['issued'][number];
function issued(n: number, over: { fields?: Record<string, string>; audience?: string; target?: string; ttlSeconds?: number; ttlCapped?: boolean; renewable?: boolean; token?: string; expiresAt?: number; renewAfter?: number } = {}): Issued {
  return {
    grant: { id: `0192f0a1-0000-7000-8000-00000000000${n}` },
    credential: {
      kind: n === 0 ? 'stint-jwt' : 'aws-sts',
      token: over.token ?? `eyJhbGciOiJFUzI1NiJ9.${'x'.repeat(300 + n)}.sig`,
      tokenType: 'urn:ietf:params:oauth:token-type:jwt',
      fields: over.fields ?? {},
      secretFields: [],
      expiresAt: over.expiresAt ?? 1_900_000_900,
      renewAfter: over.renewAfter ?? 1_900_000_600,
    },
    granted: { audience: over.audience, target: over.target, ttlSeconds: over.ttlSeconds ?? 900, ttlCapped: over.ttlCapped ?? false },
    renewable: over.renewable ?? false,
  } as unknown as Issued;
}
const result = (list: Issued[], requestId = '0192f0a1-1111-7000-8000-000000000001'): ExchangeResult =>
  ({ requestId, identity: { id: 'kubernetes:cluster:system:serviceaccount:apps:app' }, rule: 'apps', issued: list }) as unknown as ExchangeResult;

describe('an ExchangeResponse encodes to the bytes protobufjs wrote', () => {
  const cases: [string, ExchangeResult][] = [
    ['one stint-jwt with an audience', result([issued(0, { audience: API_AUDIENCE })])],
    ['a capped, renewable credential with a target and fields (non-ASCII values too)', result([issued(1, { target: 'arn:aws:iam::1:role/ci', ttlCapped: true, renewable: true, ttlSeconds: 3600, fields: { access_key_id: 'AKIA1', secret_access_key: 's/é✓', session_token: 't'.repeat(700) } })])],
    ['two credentials, a long token (multi-byte lengths) and a request id of the caller', result([issued(0, { audience: 'aud-ü', token: 't'.repeat(20_000) }), issued(1, { target: 'x' })], 'ci-run-42.step-3')],
    ['no expiry or renewal time, a zero TTL', result([issued(0, { expiresAt: 0, renewAfter: 0, ttlSeconds: 0 })])],
    ['no credential', result([])],
  ];
  for (const [name, r] of cases) {
    it(name, () => {
      const ours = encodeExchangeResponse(r);
      expect(ours.equals(method.responseSerialize(protobufjsMessage(r)))).toBe(true);
      // And it reads back as the message (what clients decode).
      expect(method.responseDeserialize(ours)).toEqual(method.responseDeserialize(method.responseSerialize(protobufjsMessage(r))));
    });
  }
});

describe('an ExchangeRequest decodes to what protobufjs gave the adapter', () => {
  const requests: [string, Record<string, unknown>][] = [
    ['the sidecar request', { subject_token: 'eyJ.a.b', credentials: [{ kind: 'stint-jwt', audience: API_AUDIENCE }] }],
    ['every field', { subject_token: 'tok', subject_token_type: 'urn:ietf:params:oauth:token-type:id_token', credentials: [{ kind: 'aws-sts', target: 'arn:x', ttl_seconds: 7200, scopes: ['s1', 'ś2'] }, { kind: 'stint-jwt', audience: 'a' }], context: { reason: 'deploy ✓', ticket: 'T-1', run_id: '42' } }],
    ['an empty message', {}],
    ['a TTL above 2^31 (uint32)', { subject_token: 't', credentials: [{ kind: 'k', ttl_seconds: 4_000_000_000 }] }],
    ['an empty context and credential', { subject_token: 't', credentials: [{}], context: {} }],
  ];
  for (const [name, req] of requests) {
    it(name, () => {
      const bytes = method.requestSerialize(req);
      expect(decodeExchangeRequest(bytes)).toEqual(protobufjsFields(method.requestDeserialize(bytes) as Record<string, unknown>));
    });
  }

  it('skips unknown fields of every wire type, at the top and inside a credential, as protobufjs does', () => {
    const known = method.requestSerialize({ subject_token: 'tok', credentials: [{ kind: 'stint-jwt', audience: 'a' }], context: { reason: 'r' } });
    const unknown = Buffer.from([
      0x78, 0x96, 0x01, // field 15 varint
      0x81, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, // field 16 fixed64
      0x8a, 0x01, 0x02, 0x41, 0x42, // field 17 bytes
      0x8d, 0x01, 1, 2, 3, 4, // field 17 fixed32
      0x9b, 0x01, 0x08, 0x01, 0x9c, 0x01, // field 19 group holding a varint
    ]);
    const credential = method.requestSerialize({ credentials: [{ kind: 'k2', ttl_seconds: 5 }] });
    // The credential's own message with the unknown fields appended inside it.
    const inner = Buffer.concat([credential.subarray(2), unknown]);
    const withInner = Buffer.concat([Buffer.from([0x1a, inner.length]), inner]);
    const bytes = Buffer.concat([unknown, known, withInner]);
    expect(decodeExchangeRequest(bytes)).toEqual(protobufjsFields(method.requestDeserialize(bytes) as Record<string, unknown>));
  });

  it('a string cut short by the end of the message is taken as it is, as protobufjs takes it', () => {
    const bytes = Buffer.from([0x0a, 0x09, 0x41, 0x42]);
    expect(decodeExchangeRequest(bytes)).toEqual(protobufjsFields(method.requestDeserialize(bytes) as Record<string, unknown>));
    expect(decodeExchangeRequest(bytes).subjectToken).toBe('AB');
  });

  it('the last of a repeated singular field wins (a second subject token, a second context)', () => {
    const a = method.requestSerialize({ subject_token: 'first', context: { reason: 'one', ticket: 'T' } });
    const b = method.requestSerialize({ subject_token: 'second', context: { run_id: '7' } });
    const bytes = Buffer.concat([a, b]);
    expect(decodeExchangeRequest(bytes)).toEqual(protobufjsFields(method.requestDeserialize(bytes) as Record<string, unknown>));
  });

  it('a message cut inside a varint, a fixed field or a nested message is refused, like protobufjs refuses it', () => {
    for (const bytes of [Buffer.from([0x0a]), Buffer.from([0x78, 0x96]), Buffer.from([0x81, 0x01, 1, 2]), Buffer.from([0x0f]), Buffer.from([0x1a, 0x05, 0x0a, 0x01, 0x41])]) {
      expect(() => method.requestDeserialize(bytes)).toThrow();
      expect(() => decodeExchangeRequest(bytes)).toThrow();
    }
  });
});

describe('over the wire', () => {
  let svc: ServiceUnderTest;
  beforeAll(async () => {
    svc = await startServiceUnderTest();
  });
  afterAll(async () => {
    await svc?.close();
  });

  /** One Exchange call with a raw framed message; the grpc-status and the answer's bytes. */
  function rawExchange(message: Buffer): Promise<{ status: string | undefined; body: Buffer }> {
    const session = connect(`http://127.0.0.1:${svc.stint.grpcPort}`);
    return new Promise((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': method.path, 'content-type': 'application/grpc', te: 'trailers' });
      let status: string | undefined;
      const chunks: Buffer[] = [];
      stream.on('response', (h) => (status = (h['grpc-status'] as string | undefined) ?? status));
      stream.on('trailers', (t) => (status = t['grpc-status'] as string));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', reject);
      stream.on('close', () => {
        session.close();
        resolve({ status, body: Buffer.concat(chunks) });
      });
      const frame = Buffer.alloc(5 + message.length);
      frame.writeUInt32BE(message.length, 1);
      message.copy(frame, 5);
      stream.end(frame);
    });
  }

  it('a malformed request is INTERNAL (grpc-js could not deserialize it), then a good one is answered', async () => {
    const bad = await rawExchange(Buffer.from([0x78, 0x96]));
    expect(bad.status).toBe(String(grpc.status.INTERNAL));
    const good = await rawExchange(method.requestSerialize({ subject_token: await svc.subjectToken(), credentials: [{ kind: 'stint-jwt', audience: API_AUDIENCE }] }));
    expect(good.status).toBe('0');
    const answer = method.responseDeserialize(good.body.subarray(5)) as { grant_id: string; credentials: { kind: string; audience: string; grant_id: string; token: string }[]; rule: string };
    expect(answer.credentials).toHaveLength(1);
    expect(answer.credentials[0]).toMatchObject({ kind: 'stint-jwt', audience: API_AUDIENCE, grant_id: answer.grant_id });
    expect(answer.credentials[0]!.token.split('.')).toHaveLength(3);
  });
});
