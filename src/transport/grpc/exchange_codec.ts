/**
 * The wire codec of `stint.v1.TokenExchange/Exchange`, the one hot gRPC method: the request is
 * decoded straight into the pipeline's input and the answer encoded straight from its result,
 * in one pass each, instead of protobufjs building a message object, converting it to a plain
 * object with defaults and the adapter copying that again (and the reverse for the answer). The
 * contract is proto/stint/v1/stint.proto, unchanged: the answer's bytes are those protobufjs
 * wrote for the same message (every field the adapter set, in field-number order, empty strings
 * included), and the request is read as protobufjs reads it (unknown fields skipped, the last
 * of a repeated singular field wins, a string cut short by the end of the message taken as it
 * is, a nested message cut short refused). test/transport/grpc/exchange_codec.test.ts holds both to protobufjs.
 */
import type { CredentialRequest, RequestContext } from '../../policy/decision.js';
import type { ExchangeResult } from '../../pipeline/exchange.js';

/** What an ExchangeRequest carries, as the pipeline takes it (absent and empty fields are `undefined`, as before). */
export interface ExchangeRequestFields {
  readonly subjectToken: string;
  readonly subjectTokenType: string;
  readonly credentials: CredentialRequest[];
  readonly context: RequestContext;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

/** A cursor over one message (or a nested one, up to `end`). */
class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    pos: number,
    readonly end: number,
  ) {
    this.pos = pos;
  }

  /** A varint as protobufjs's uint32 reads it: the low 32 bits, unsigned; up to 10 bytes. */
  uint32(): number {
    const { buf } = this;
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) throw new RangeError('index out of range: varint past the end of the message');
      const b = buf[this.pos++]!;
      if (shift < 32) value |= (b & 0x7f) << shift;
      if (b < 0x80) return value >>> 0;
    }
    throw new RangeError('varint longer than 10 bytes');
  }

  /** A string, cut at the end of the message when it claims more (as protobufjs reads it). */
  string(): string {
    const len = this.uint32();
    const start = this.pos;
    this.pos = Math.min(start + len, this.end);
    return this.buf.toString('utf8', start, this.pos);
  }

  /** A nested message's reader (which must end within this one), this one moved past it. */
  nested(): Reader {
    const len = this.uint32();
    const start = this.pos;
    this.advance(len);
    return new Reader(this.buf, start, this.pos);
  }

  /** Skip a field of wire type `wire` (an unknown field, or a known one sent with another type). */
  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.uint32();
        return;
      case WIRE_FIXED64:
        this.advance(8);
        return;
      case WIRE_BYTES:
        this.advance(this.uint32());
        return;
      case WIRE_START_GROUP:
        for (;;) {
          const tag = this.uint32();
          if ((tag & 7) === WIRE_END_GROUP) return;
          this.skip(tag & 7);
        }
      case WIRE_FIXED32:
        this.advance(4);
        return;
      default:
        throw new Error(`invalid wire type ${wire} at offset ${this.pos}`);
    }
  }

  advance(n: number): void {
    if (this.pos + n > this.end) throw new RangeError('index out of range: field past the end of the message');
    this.pos += n;
  }
}

/** Decode an ExchangeRequest. */
export function decodeExchangeRequest(buf: Buffer): ExchangeRequestFields {
  const r = new Reader(buf, 0, buf.length);
  let subjectToken = '';
  let subjectTokenType = '';
  const credentials: CredentialRequest[] = [];
  let context: RequestContext = { reason: undefined, ticket: undefined, runId: undefined };
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wire = tag & 7;
    const field = tag >>> 3;
    if (wire !== WIRE_BYTES || field < 1 || field > 4) {
      r.skip(wire);
      continue;
    }
    if (field === 1) subjectToken = r.string();
    else if (field === 2) subjectTokenType = r.string();
    else if (field === 3) credentials.push(decodeCredentialRequest(r));
    else context = decodeContext(r);
  }
  return { subjectToken, subjectTokenType, credentials, context };
}

function decodeCredentialRequest(outer: Reader): CredentialRequest {
  const r = outer.nested();
  let kind = '';
  let audience = '';
  let target = '';
  let ttl = 0;
  const scopes: string[] = [];
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wire = tag & 7;
    const field = tag >>> 3;
    if (field === 4 && wire === WIRE_VARINT) ttl = r.uint32();
    else if (wire !== WIRE_BYTES || field < 1 || field > 5 || field === 4) r.skip(wire);
    else if (field === 1) kind = r.string();
    else if (field === 2) audience = r.string();
    else if (field === 3) target = r.string();
    else scopes.push(r.string());
  }
  return { kind, audience: audience || undefined, target: target || undefined, ttlSeconds: ttl > 0 ? ttl : undefined, scopes: scopes.length ? scopes : undefined };
}

function decodeContext(outer: Reader): RequestContext {
  const r = outer.nested();
  let reason = '';
  let ticket = '';
  let runId = '';
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wire = tag & 7;
    const field = tag >>> 3;
    if (wire !== WIRE_BYTES || field < 1 || field > 3) r.skip(wire);
    else if (field === 1) reason = r.string();
    else if (field === 2) ticket = r.string();
    else runId = r.string();
  }
  return { reason: reason || undefined, ticket: ticket || undefined, runId: runId || undefined };
}

/**
 * An RFC 3339 time of epoch seconds, '' for none. Date's toISOString costs microseconds, and the
 * answers of one second carry the same few times (expiry, renewal): the recent ones are kept.
 */
const isoCache = new Map<number, string>();
function iso(seconds: number | null): string {
  if (!seconds) return '';
  let s = isoCache.get(seconds);
  if (s === undefined) {
    if (isoCache.size >= 64) isoCache.clear();
    s = new Date(seconds * 1000).toISOString();
    isoCache.set(seconds, s);
  }
  return s;
}

/** The size of a varint. */
const varintSize = (v: number): number => (v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5);

/** Size of a string field (tag of one byte: field numbers below 16). */
const stringSize = (byteLength: number): number => 1 + varintSize(byteLength) + byteLength;

/** One credential of the answer, its strings measured once. */
interface CredentialParts {
  readonly strings: readonly string[];
  readonly lengths: readonly number[];
  readonly fields: readonly [string, number, string, number][];
  readonly ttlSeconds: number;
  readonly ttlCapped: boolean;
  readonly renewable: boolean;
  readonly size: number;
}

/** Tags of Credential's string fields 1, 2, 3, 4 then 6, 7 and, after the varints, 10, 11. */
const CREDENTIAL_STRING_TAGS = [0x0a, 0x12, 0x1a, 0x22, 0x32, 0x3a, 0x52, 0x5a] as const;

function credentialParts(i: ExchangeResult['issued'][number]): CredentialParts {
  const c = i.credential;
  const strings = [i.grant.id, c.kind, c.token, c.tokenType, iso(c.expiresAt), iso(c.renewAfter), i.granted.audience ?? '', i.granted.target ?? ''].map(String);
  const lengths = strings.map((s) => Buffer.byteLength(s));
  let size = 0;
  for (const n of lengths) size += stringSize(n);
  const fields: [string, number, string, number][] = [];
  for (const [k, v] of Object.entries(c.fields ?? {})) {
    const key = String(k);
    const value = String(v);
    const kl = Buffer.byteLength(key);
    const vl = Buffer.byteLength(value);
    const entry = stringSize(kl) + stringSize(vl);
    size += 1 + varintSize(entry) + entry;
    fields.push([key, kl, value, vl]);
  }
  const ttlSeconds = i.granted.ttlSeconds >>> 0;
  size += 1 + varintSize(ttlSeconds) + 2 + 2; // ttl_seconds, ttl_capped, renewable
  return { strings, lengths, fields, ttlSeconds, ttlCapped: Boolean(i.granted.ttlCapped), renewable: Boolean(i.renewable), size };
}

/** Writes into one buffer of the exact size. */
class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(v: number): void {
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }

  string(tag: number, s: string, byteLength: number): void {
    const { buf } = this;
    buf[this.pos++] = tag;
    this.varint(byteLength);
    if (byteLength === s.length && byteLength <= 64) {
      // ASCII (as many bytes as UTF-16 units), short: a loop is cheaper than a call into C++.
      for (let i = 0; i < byteLength; i++) buf[this.pos++] = s.charCodeAt(i);
    } else {
      this.pos += buf.write(s, this.pos, byteLength, 'utf8');
    }
  }
}

/**
 * Encode the ExchangeResponse of an allowed exchange: grant_id (the first grant), the
 * credentials, rule, identity and request_id.
 */
export function encodeExchangeResponse(result: ExchangeResult): Buffer {
  const head = [result.issued[0]?.grant.id ?? '', result.rule, result.identity.id, result.requestId].map(String);
  const headLengths = head.map((s) => Buffer.byteLength(s));
  const credentials = result.issued.map(credentialParts);
  let size = 0;
  for (const n of headLengths) size += stringSize(n);
  for (const c of credentials) size += 1 + varintSize(c.size) + c.size;
  const w = new Writer(Buffer.allocUnsafe(size));
  w.string(0x0a, head[0]!, headLengths[0]!);
  for (const c of credentials) {
    w.buf[w.pos++] = 0x12;
    w.varint(c.size);
    for (let f = 0; f < 4; f++) w.string(CREDENTIAL_STRING_TAGS[f]!, c.strings[f]!, c.lengths[f]!);
    for (const [key, kl, value, vl] of c.fields) {
      w.buf[w.pos++] = 0x2a;
      w.varint(stringSize(kl) + stringSize(vl));
      w.string(0x0a, key, kl);
      w.string(0x12, value, vl);
    }
    for (let f = 4; f < 6; f++) w.string(CREDENTIAL_STRING_TAGS[f]!, c.strings[f]!, c.lengths[f]!);
    w.buf[w.pos++] = 0x40;
    w.varint(c.ttlSeconds);
    w.buf[w.pos++] = 0x48;
    w.buf[w.pos++] = c.ttlCapped ? 1 : 0;
    for (let f = 6; f < 8; f++) w.string(CREDENTIAL_STRING_TAGS[f]!, c.strings[f]!, c.lengths[f]!);
    w.buf[w.pos++] = 0x60;
    w.buf[w.pos++] = c.renewable ? 1 : 0;
  }
  for (let f = 1; f < 4; f++) w.string(0x1a + (f - 1) * 8, head[f]!, headLengths[f]!);
  if (w.pos !== size) throw new Error(`ExchangeResponse encoding wrote ${w.pos} of ${size} bytes`);
  return w.buf;
}
