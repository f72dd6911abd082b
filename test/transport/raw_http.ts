/**
 * Raw HTTP/1.1 over a TCP socket, for tests that send what a well-behaved client library refuses
 * to send (bad percent-encoding, odd methods, stray headers), plus the fast-check arbitraries the
 * listener fuzz tests of the service and the sidecar share.
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import fc from 'fast-check';

/** One raw request. */
export interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
}

/** Send one request with `Connection: close`; resolves with the status (null when the server closed without an answer). */
export function rawRequest(port: number, req: RawRequest, options: { host?: string; tlsCa?: Buffer } = {}): Promise<{ status: number | null; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const host = options.host ?? `127.0.0.1:${port}`;
    const socket: Socket = options.tlsCa ? tlsConnect({ port, host: '127.0.0.1', ca: options.tlsCa, servername: 'localhost' }) : connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : null, head: split >= 0 ? text.slice(0, split) : text, body: split >= 0 ? text.slice(split + 4) : '' });
    });
    const lines = [`${req.method} ${req.path} HTTP/1.1`];
    if (!req.headers.some(([k]) => k.toLowerCase() === 'host')) lines.push(`Host: ${host}`);
    for (const [k, v] of req.headers) lines.push(`${k}: ${v}`);
    lines.push('Connection: close', `Content-Length: ${req.body.length}`, '', '');
    const write = (): void => {
      socket.write(Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), Buffer.from(req.body)]));
    };
    if (options.tlsCa) socket.once('secureConnect', write);
    else socket.once('connect', write);
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${req.method} ${req.path.slice(0, 80)}`));
    }, 10_000).unref();
  });
}

const printable = (max: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^[\\x21-\\x7e]{0,${max}}$`));

/** Path pieces that have broken parsers: bad and overlong percent-encodings, dot segments, encoded slashes. */
const PATH_PIECES = ['%E0%A4%A', '%', '%%', '%zz', '%C0%AF', '%FF', '%00', '%2F', '%2e%2e', '..', '.', '//', '?', '&', '=', '#', ';', 'default', 'token', 'recursive=true'];

/** A random path under one of `prefixes`, made of known pieces and printable noise. */
export function pathArb(prefixes: readonly string[]): fc.Arbitrary<string> {
  const piece = fc.oneof(fc.constantFrom(...PATH_PIECES), printable(12));
  return fc.tuple(fc.constantFrom(...prefixes, '/', '*'), fc.array(fc.tuple(fc.constantFrom('/', ''), piece), { maxLength: 6 }), fc.constantFrom('', '/', '?', '?x=%E0%A4%A', '?recursive=true&recursive=false'))
    .map(([prefix, pieces, tail]) => `${prefix}${pieces.map(([sep, p]) => sep + p).join('')}${tail}` || '/');
}

/** A random method, standard or not. */
export const methodArb: fc.Arbitrary<string> = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'BREW');

/** Random headers from those the endpoints read, with good, empty and hostile values. */
export function headersArb(extra: Record<string, readonly string[]> = {}): fc.Arbitrary<[string, string][]> {
  const known: Record<string, readonly string[]> = {
    'Metadata-Flavor': ['Google', 'google', '', 'Google, Google'],
    'X-Forwarded-For': ['', '10.0.0.1', ' '],
    Authorization: ['', 'Bearer', 'Bearer ', 'Bearer %E0%A4%A', 'Basic Zm9vOmJhcg==', 'bearer x y'],
    'Content-Type': ['application/x-www-form-urlencoded', 'application/json', 'text/plain', '', 'application/x-www-form-urlencoded; charset=utf-8'],
    'X-Request-Id': ['abc', '', '%E0%A4%A', 'x'.repeat(200)],
    Host: ['metadata.google.internal', 'evil.example', '', '127.0.0.1'],
    ...extra,
  };
  const one = fc.constantFrom(...Object.keys(known)).chain((k) => fc.oneof(fc.constantFrom(...known[k]!), printable(40)).map((v): [string, string] => [k, v]));
  return fc.uniqueArray(one, { maxLength: 5, selector: ([k]) => k.toLowerCase() });
}

/** A random body: form fields, JSON, or bytes. */
export function bodyArb(formFields: readonly string[] = []): fc.Arbitrary<Uint8Array> {
  const value = fc.oneof(printable(30), fc.constantFrom('%E0%A4%A', '', 'eyJhbGciOiJub25lIn0.e30.', 'é', '\u0000'));
  const form = fc.array(fc.tuple(fc.constantFrom(...formFields, 'x', ''), value), { maxLength: 8 }).map((pairs) => new TextEncoder().encode(pairs.map(([k, v]) => `${k}=${v}`).join('&')));
  const json = fc.jsonValue({ maxDepth: 3 }).map((v) => new TextEncoder().encode(JSON.stringify(v) ?? 'null'));
  return fc.oneof(fc.constant(new Uint8Array()), form, json, fc.uint8Array({ maxLength: 300 }));
}

/** A whole random request under `prefixes`. */
export function requestArb(prefixes: readonly string[], formFields: readonly string[] = [], extraHeaders: Record<string, readonly string[]> = {}): fc.Arbitrary<RawRequest> {
  return fc.record({ method: methodArb, path: pathArb(prefixes), headers: headersArb(extraHeaders), body: bodyArb(formFields) });
}
