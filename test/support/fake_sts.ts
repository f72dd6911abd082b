/**
 * A local AWS STS on loopback speaking the real Query API wire format, for provider and
 * end-to-end tests with the unmodified AWS SDK pointed at it by its `endpoint` setting.
 *
 * Requests are form-encoded POSTs (`Action=AssumeRoleWithWebIdentity&Version=2011-06-15&...`);
 * answers are the XML documents STS sends (`<AssumeRoleWithWebIdentityResponse
 * xmlns="https://sts.amazonaws.com/doc/2011-06-15/">`) and the XML error body
 * `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>...` with the HTTP status
 * STS uses. It behaves as AWS does where a test could tell:
 *
 * - AssumeRoleWithWebIdentity verifies the presented JWT with jose against the JWKS named by the
 *   trusted issuer's discovery document (fetched on every call, so key rotation is seen at
 *   once), checks `iss`, `aud` and time, reads session tags from the
 *   `https://aws.amazon.com/tags` claim and the source identity from
 *   `https://aws.amazon.com/source_identity`, as AWS does for OIDC providers.
 * - GetCallerIdentity answers JSON when the request says `Accept: application/json`, as STS does
 *   (`{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{...},"ResponseMetadata":{...}}}`,
 *   errors as `{"Error":{"Code",...},"RequestId"}`); failure modes `identity-xml` and
 *   `identity-extra-member` spoil that answer for the aws-iam attestor's tests.
 * - AssumeRole and GetCallerIdentity verify the SigV4 signature: AssumeRole against the
 *   configured principals' keys, GetCallerIdentity also against the sessions this fake issued
 *   (with their session token, unexpired by the fake's clock). So a client can only call
 *   GetCallerIdentity with credentials it really received, all three parts intact.
 * - Parameters are validated with STS's constraints (RoleSessionName `[\w+=,.@-]{2,64}`,
 *   DurationSeconds 900..the role's maximum, tag keys and values, policy JSON and size).
 *
 * Every request is recorded (`calls`) with the parameters it carried, for assertions. Failures
 * are injected with `fail(mode)` (every call) or `failNext(mode, n)` (the next n calls).
 */
import { closeWithConnections, connectionFailure, FailureSwitch, readQueryForm } from './aws_query_server.js';
import { parseSigV4, sigV4Matches } from './sigv4.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { Clock } from '../../src/clock.js';

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const TAGS_CLAIM = 'https://aws.amazon.com/tags';
const SOURCE_IDENTITY_CLAIM = 'https://aws.amazon.com/source_identity';
const NAME_PATTERN = /^[\w+=,.@-]*$/;
const TAG_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** How the fake misbehaves; `none` serves normally. */
export type StsFailureMode =
  | 'none'
  /** 403 AccessDenied (Sender). */
  | 'deny'
  /** 400 Throttling (Sender), as STS throttles. */
  | 'throttle'
  /** 503 ServiceUnavailable (Receiver). */
  | 'unavailable'
  /** 500 InternalFailure (Receiver). */
  | 'internal'
  /** Close the connection without an answer. */
  | 'close'
  /** Never answer (for timeouts). */
  | 'hang'
  /** 200 with a truncated XML body. */
  | 'malformed'
  /** 200 with well-formed XML lacking the Credentials element. */
  | 'no-credentials'
  /** 200 with an HTML page (a proxy in the way). */
  | 'html'
  /** 502 with an HTML page (a load balancer with no healthy STS behind it). */
  | 'bad-gateway'
  /** GetCallerIdentity answered in XML although JSON was asked for (a proxy rewriting it). */
  | 'identity-xml'
  /** GetCallerIdentity answered in JSON with an extra member (Vault CVE-2020-16250 shape). */
  | 'identity-extra-member';

/** A custom STS error answer. */
export interface StsErrorAnswer {
  readonly status: number;
  readonly code: string;
  readonly type?: 'Sender' | 'Receiver';
  readonly message?: string;
}

/** A long-lived IAM principal allowed to call AssumeRole (Stint's own identity in assume-role mode). */
export interface StsPrincipal {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** ARN returned by GetCallerIdentity. */
  readonly arn: string;
}

/** A role that may be assumed. */
export interface StsRole {
  readonly arn: string;
  /** The role's MaxSessionDuration, seconds (default 3600). */
  readonly maxSessionDuration?: number;
}

/** One request the fake received, with the parameters STS would act on. */
export interface StsCall {
  readonly action: string;
  /** Every form parameter except the web identity token (recorded as `webIdentityToken` below). */
  readonly params: Readonly<Record<string, string>>;
  readonly roleArn?: string;
  readonly roleSessionName?: string;
  readonly durationSeconds?: number;
  /** Session tags: API parameters (AssumeRole) or the token's tags claim (web identity). */
  readonly tags: readonly { Key: string; Value: string }[];
  readonly transitiveTagKeys: readonly string[];
  readonly policy?: string;
  readonly sourceIdentity?: string;
  /** The verified web identity token's claims (AssumeRoleWithWebIdentity). */
  readonly webIdentityClaims?: JWTPayload;
  readonly webIdentityToken?: string;
  /** True when the request carried an Authorization header (AssumeRoleWithWebIdentity is unsigned). */
  readonly signed: boolean;
  /** The access key id a signed request was signed with. */
  readonly signedBy?: string;
  /** `ok`, or the STS error code answered. */
  outcome: string;
}

/** Credentials the fake issued. */
export interface StsSession {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly assumedRoleArn: string;
  readonly assumedRoleId: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

/** Options of {@link FakeSts.start}. */
export interface FakeStsOptions {
  /** Time for token verification and session expiry (default: the wall clock). */
  readonly clock?: Clock;
  /** The OIDC issuer trusted for web identity (can be set later with `trustIssuer`). */
  readonly trustedIssuer?: string;
  /** The `aud` web identity tokens must carry (default `sts.amazonaws.com`). */
  readonly audience?: string;
  readonly roles?: readonly StsRole[];
  readonly principals?: readonly StsPrincipal[];
}

class StsFault extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: 'Sender' | 'Receiver' = status >= 500 ? 'Receiver' : 'Sender',
  ) {
    super(message);
  }
}

const FAILURES: Record<Exclude<StsFailureMode, 'none' | 'close' | 'hang' | 'malformed' | 'no-credentials' | 'html' | 'bad-gateway' | 'identity-xml' | 'identity-extra-member'>, StsErrorAnswer> = {
  deny: { status: 403, code: 'AccessDenied', message: 'Not authorized to perform sts:AssumeRoleWithWebIdentity' },
  throttle: { status: 400, code: 'Throttling', message: 'Rate exceeded' },
  unavailable: { status: 503, code: 'ServiceUnavailable', type: 'Receiver', message: 'Service is unavailable' },
  internal: { status: 500, code: 'InternalFailure', type: 'Receiver', message: 'An internal error occurred' },
};

/** A loopback STS; create with {@link FakeSts.start}. */
export class FakeSts {
  /** `http://127.0.0.1:<port>`: the SDK's `endpoint`. */
  readonly url: string;
  /** Every request, in order. */
  readonly calls: StsCall[] = [];
  /** Sessions issued, by access key id. */
  readonly sessions = new Map<string, StsSession>();
  /** The account id in ARNs. */
  readonly accountId = '123456789012';

  readonly #close: () => Promise<void>;
  readonly #clock: Clock;
  readonly #roles = new Map<string, StsRole>();
  readonly #principals = new Map<string, StsPrincipal>();
  #issuer: string | undefined;
  #audience: string;
  readonly #failures = new FailureSwitch<Exclude<StsFailureMode, 'none'> | StsErrorAnswer>();

  private constructor(server: Server, url: string, options: FakeStsOptions) {
    this.url = url;
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#issuer = options.trustedIssuer;
    this.#audience = options.audience ?? 'sts.amazonaws.com';
    for (const r of options.roles ?? []) this.addRole(r);
    for (const p of options.principals ?? []) this.addPrincipal(p);
    this.#close = closeWithConnections(server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res));
  }

  /** Start on a loopback port chosen by the OS. */
  static async start(options: FakeStsOptions = {}): Promise<FakeSts> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new FakeSts(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, options);
  }

  /** A role ARN in the fake's account. */
  roleArn(name: string): string {
    return `arn:aws:iam::${this.accountId}:role/${name}`;
  }

  /** Allow a role to be assumed. */
  addRole(role: StsRole): void {
    this.#roles.set(role.arn, role);
  }

  /** Allow a principal to call signed actions. */
  addPrincipal(principal: StsPrincipal): void {
    this.#principals.set(principal.accessKeyId, principal);
  }

  /** Trust an OIDC issuer (and audience) for AssumeRoleWithWebIdentity. */
  trustIssuer(issuer: string, audience: string = this.#audience): void {
    this.#issuer = issuer;
    this.#audience = audience;
  }

  /** Fail every call in `mode` until `recover()`. */
  fail(mode: StsFailureMode | StsErrorAnswer): void {
    this.#failures.always(mode);
  }

  /** Fail only the next `times` calls in `mode`. */
  failNext(mode: StsFailureMode | StsErrorAnswer, times = 1): void {
    this.#failures.next(mode, times);
  }

  /** Serve normally again. */
  recover(): void {
    this.#failures.recover();
  }

  /** Calls of one action. */
  callsOf(action: string): StsCall[] {
    return this.calls.filter((c) => c.action === action);
  }

  /** Forget recorded calls. */
  reset(): void {
    this.calls.length = 0;
  }

  /** Stop listening and drop open connections. */
  async close(): Promise<void> {
    await this.#close();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { body, form } = await readQueryForm(req);
    const params: Record<string, string> = {};
    for (const [k, v] of form) if (k !== 'WebIdentityToken') params[k] = v;
    const call: StsCall = { action: form.get('Action') ?? '', params, signed: req.headers.authorization !== undefined, tags: [], transitiveTagKeys: [], outcome: 'ok' };
    this.calls.push(call);
    const failure = this.#failures.take();
    if (connectionFailure(failure, call, req)) return;
    if (failure === 'bad-gateway') {
      call.outcome = 'bad-gateway';
      res.writeHead(502, { 'content-type': 'text/html' }).end('<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>');
      return;
    }
    try {
      if (req.method !== 'POST') throw new StsFault(405, 'InvalidAction', 'STS Query API requests are POSTs here');
      if (failure !== 'none' && typeof failure === 'object') throw new StsFault(failure.status, failure.code, failure.message ?? failure.code, failure.type);
      if (failure !== 'none' && failure in FAILURES) {
        const f = FAILURES[failure as keyof typeof FAILURES];
        throw new StsFault(f.status, f.code, f.message ?? f.code, f.type);
      }
      if (form.get('Version') !== '2011-06-15') throw new StsFault(400, 'InvalidParameterValue', 'Version must be 2011-06-15');
      let xml: string;
      switch (call.action) {
        case 'AssumeRoleWithWebIdentity':
          xml = await this.#assumeRoleWithWebIdentity(form, call);
          break;
        case 'AssumeRole':
          xml = this.#assumeRole(req, body, form, call);
          break;
        case 'GetCallerIdentity': {
          // STS answers JSON when asked with Accept: application/json (what Vault and Stint's aws-iam require).
          const identity = this.#getCallerIdentity(req, body, call);
          if (wantsJson(req) && failure !== 'identity-xml' && failure !== 'html') {
            const result: Record<string, string> = { Account: identity.account, Arn: identity.arn, UserId: identity.userId };
            if (failure === 'identity-extra-member') result['Arn2'] = `arn:aws:iam::${this.accountId}:role/admin`;
            res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID() })
              .end(JSON.stringify({ GetCallerIdentityResponse: { GetCallerIdentityResult: result, ResponseMetadata: { RequestId: randomUUID() } } }));
            return;
          }
          xml = identity.xml;
          break;
        }
        default:
          throw new StsFault(400, 'InvalidAction', `Could not find operation ${call.action} for version 2011-06-15`);
      }
      if (failure === 'malformed') xml = xml.slice(0, Math.floor(xml.length / 2));
      else if (failure === 'no-credentials') xml = xml.replace(/<Credentials>[\s\S]*<\/Credentials>/, '');
      else if (failure === 'html') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><h1>Welcome to nginx!</h1></body></html>');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() }).end(xml);
    } catch (err) {
      const fault = err instanceof StsFault ? err : new StsFault(500, 'InternalFailure', String((err as Error).message));
      call.outcome = fault.code;
      const requestId = randomUUID();
      if (call.action === 'GetCallerIdentity' && wantsJson(req)) {
        res.writeHead(fault.status, { 'content-type': 'application/json', 'x-amzn-requestid': requestId })
          .end(JSON.stringify({ Error: { Code: fault.code, Message: fault.message, Type: fault.type }, RequestId: requestId }));
        return;
      }
      res
        .writeHead(fault.status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId })
        .end(
          `<ErrorResponse xmlns="${NS}">\n  <Error>\n    <Type>${fault.type}</Type>\n    <Code>${esc(fault.code)}</Code>\n    <Message>${esc(fault.message)}</Message>\n  </Error>\n  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`,
        );
    }
  }

  async #assumeRoleWithWebIdentity(form: URLSearchParams, call: StsCall): Promise<string> {
    const token = form.get('WebIdentityToken') ?? '';
    Object.assign(call, { webIdentityToken: token });
    const common = this.#commonParams(form, call);
    if (token.length < 4 || token.length > 20000) throw validation('webIdentityToken', 'Member must have length between 4 and 20000');
    const claims = await this.#verifyWebIdentity(token);
    const tags = webIdentityTags(claims);
    const sourceIdentity = claims[SOURCE_IDENTITY_CLAIM];
    if (sourceIdentity !== undefined) checkSourceIdentity(sourceIdentity);
    Object.assign(call, {
      webIdentityClaims: claims,
      tags: tags.tags,
      transitiveTagKeys: tags.transitive,
      ...(typeof sourceIdentity === 'string' ? { sourceIdentity } : {}),
    });
    const role = this.#role(common.roleArn, 'sts:AssumeRoleWithWebIdentity');
    this.#checkDuration(role, common.durationSeconds);
    const session = this.#issue(role, common.roleSessionName, common.durationSeconds);
    return `<AssumeRoleWithWebIdentityResponse xmlns="${NS}">
  <AssumeRoleWithWebIdentityResult>
    <Audience>${esc(this.#audience)}</Audience>
    <SubjectFromWebIdentityToken>${esc(String(claims.sub ?? ''))}</SubjectFromWebIdentityToken>
${assumedRoleXml(session)}
${credentialsXml(session)}
    <Provider>${esc(String(claims.iss ?? ''))}</Provider>
    <PackedPolicySize>${common.packedPolicySize}</PackedPolicySize>
${typeof sourceIdentity === 'string' ? `    <SourceIdentity>${esc(sourceIdentity)}</SourceIdentity>\n` : ''}  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>${randomUUID()}</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
`;
  }

  #assumeRole(req: IncomingMessage, body: string, form: URLSearchParams, call: StsCall): string {
    const signer = this.#verifySignature(req, body, call, false);
    if (!this.#principals.has(signer.accessKeyId)) throw new StsFault(403, 'AccessDenied', `User: ${signer.arn} is not authorized to perform: sts:AssumeRole`);
    const common = this.#commonParams(form, call);
    const tags: { Key: string; Value: string }[] = [];
    for (let i = 1; form.has(`Tags.member.${i}.Key`); i++) tags.push({ Key: form.get(`Tags.member.${i}.Key`)!, Value: form.get(`Tags.member.${i}.Value`) ?? '' });
    const transitive: string[] = [];
    for (let i = 1; form.has(`TransitiveTagKeys.member.${i}`); i++) transitive.push(form.get(`TransitiveTagKeys.member.${i}`)!);
    checkTags(tags);
    const sourceIdentity = form.get('SourceIdentity') ?? undefined;
    if (sourceIdentity !== undefined) checkSourceIdentity(sourceIdentity);
    Object.assign(call, { tags, transitiveTagKeys: transitive, ...(sourceIdentity !== undefined ? { sourceIdentity } : {}) });
    const role = this.#role(common.roleArn, 'sts:AssumeRole');
    this.#checkDuration(role, common.durationSeconds);
    const session = this.#issue(role, common.roleSessionName, common.durationSeconds);
    return `<AssumeRoleResponse xmlns="${NS}">
  <AssumeRoleResult>
${sourceIdentity !== undefined ? `    <SourceIdentity>${esc(sourceIdentity)}</SourceIdentity>\n` : ''}${assumedRoleXml(session)}
${credentialsXml(session)}
    <PackedPolicySize>${common.packedPolicySize}</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>${randomUUID()}</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>
`;
  }

  #getCallerIdentity(req: IncomingMessage, body: string, call: StsCall): { account: string; arn: string; userId: string; xml: string } {
    const signer = this.#verifySignature(req, body, call, true);
    const userId = signer.session ? signer.session.assumedRoleId : `AIDA${signer.accessKeyId.slice(4)}`;
    const xml = `<GetCallerIdentityResponse xmlns="${NS}">
  <GetCallerIdentityResult>
    <Arn>${esc(signer.arn)}</Arn>
    <UserId>${esc(userId)}</UserId>
    <Account>${this.accountId}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>${randomUUID()}</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>
`;
    return { account: this.accountId, arn: signer.arn, userId, xml };
  }

  /** RoleArn, RoleSessionName, DurationSeconds and Policy, validated as STS does. */
  #commonParams(form: URLSearchParams, call: StsCall): { roleArn: string; roleSessionName: string; durationSeconds: number; packedPolicySize: number } {
    const roleArn = form.get('RoleArn') ?? '';
    const roleSessionName = form.get('RoleSessionName') ?? '';
    const duration = form.get('DurationSeconds');
    const durationSeconds = duration === null ? 3600 : Number(duration);
    const policy = form.get('Policy') ?? undefined;
    Object.assign(call, { roleArn, roleSessionName, durationSeconds, ...(policy !== undefined ? { policy } : {}) });
    if (roleArn.length < 20 || roleArn.length > 2048) throw validation('roleArn', 'Member must have length between 20 and 2048');
    if (roleSessionName.length < 2 || roleSessionName.length > 64) throw validation('roleSessionName', 'Member must have length between 2 and 64');
    if (!NAME_PATTERN.test(roleSessionName)) throw validation('roleSessionName', 'Member must satisfy regular expression pattern: [\\w+=,.@-]*');
    if (!Number.isInteger(durationSeconds) || durationSeconds < 900 || durationSeconds > 43200) throw validation('durationSeconds', 'Member must have value between 900 and 43200');
    let packedPolicySize = 0;
    if (policy !== undefined) {
      if (policy.length > 2048) throw validation('policy', 'Member must have length less than or equal to 2048');
      let doc: unknown;
      try {
        doc = JSON.parse(policy);
      } catch {
        throw new StsFault(400, 'MalformedPolicyDocument', 'The policy is not in the valid JSON format.');
      }
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !('Statement' in doc)) {
        throw new StsFault(400, 'MalformedPolicyDocument', 'Syntax errors in policy.');
      }
      packedPolicySize = Math.ceil((policy.length / 2048) * 100);
    }
    return { roleArn, roleSessionName, durationSeconds, packedPolicySize };
  }

  #role(arn: string, action: string): StsRole {
    if (!/^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(arn)) throw validation('roleArn', 'Member must be a role ARN');
    const role = this.#roles.get(arn);
    if (!role) throw new StsFault(403, 'AccessDenied', `Not authorized to perform ${action}`);
    return role;
  }

  #checkDuration(role: StsRole, durationSeconds: number): void {
    if (durationSeconds > (role.maxSessionDuration ?? 3600)) {
      throw new StsFault(400, 'ValidationError', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
    }
  }

  async #verifyWebIdentity(token: string): Promise<JWTPayload> {
    if (!this.#issuer) throw new StsFault(400, 'InvalidIdentityToken', 'No OpenIDConnect provider found in your account');
    let jwks: JSONWebKeySet;
    try {
      const discovery = (await (await fetch(`${this.#issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(3000) })).json()) as { issuer?: string; jwks_uri?: string };
      if (discovery.issuer !== this.#issuer || typeof discovery.jwks_uri !== 'string') throw new Error('discovery names another issuer');
      jwks = (await (await fetch(discovery.jwks_uri, { signal: AbortSignal.timeout(3000) })).json()) as JSONWebKeySet;
    } catch {
      throw new StsFault(400, 'IDPCommunicationError', "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements");
    }
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
        issuer: this.#issuer,
        audience: this.#audience,
        currentDate: new Date(this.#clock.now()),
        algorithms: ['RS256', 'ES256', 'ES384', 'EdDSA'],
      });
      return payload;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED') throw new StsFault(400, 'ExpiredTokenException', 'Token expired');
      if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && (e as { claim?: string }).claim === 'aud') throw new StsFault(400, 'InvalidIdentityToken', 'Incorrect token audience');
      throw new StsFault(400, 'InvalidIdentityToken', `Token verification failed (${code ?? 'error'})`);
    }
  }

  /** Check a SigV4-signed request; returns the signer. */
  #verifySignature(req: IncomingMessage, body: string, call: StsCall, allowSessions: boolean): { accessKeyId: string; arn: string; session?: StsSession } {
    const sig = parseSigV4(req);
    if (!sig) throw new StsFault(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
    const { accessKeyId, date, service, signedHeaders: names, amzDate } = sig;
    Object.assign(call, { signedBy: accessKeyId });
    const principal = this.#principals.get(accessKeyId);
    const session = allowSessions ? this.sessions.get(accessKeyId) : undefined;
    const secret = principal?.secretAccessKey ?? session?.secretAccessKey;
    if (!secret || service !== 'sts') throw new StsFault(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    if (!amzDate.startsWith(date)) throw new StsFault(403, 'SignatureDoesNotMatch', 'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP');
    if (!names.includes('host') || !names.includes('x-amz-date')) throw new StsFault(403, 'SignatureDoesNotMatch', 'host and x-amz-date must be signed');
    if (!sigV4Matches(req, body, sig, secret)) {
      throw new StsFault(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
    }
    if (principal) return { accessKeyId, arn: principal.arn };
    const s = session!;
    const presented = req.headers['x-amz-security-token'];
    if (presented !== s.sessionToken || !names.includes('x-amz-security-token')) throw new StsFault(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    if (s.expiresAt * 1000 <= this.#clock.now()) throw new StsFault(403, 'ExpiredToken', 'The security token included in the request is expired');
    return { accessKeyId, arn: s.assumedRoleArn, session: s };
  }

  #issue(role: StsRole, sessionName: string, durationSeconds: number): StsSession {
    const roleName = role.arn.slice(role.arn.lastIndexOf('/') + 1);
    const roleId = `AROA${randomAlnum(17)}`;
    const session: StsSession = {
      accessKeyId: `ASIA${randomAlnum(16)}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: `FwoGZXIvYXdzE${randomBytes(240).toString('base64')}`,
      assumedRoleArn: `arn:aws:sts::${this.accountId}:assumed-role/${roleName}/${sessionName}`,
      assumedRoleId: `${roleId}:${sessionName}`,
      expiresAt: Math.floor(this.#clock.now() / 1000) + durationSeconds,
    };
    this.sessions.set(session.accessKeyId, session);
    return session;
  }
}

function assumedRoleXml(s: StsSession): string {
  return `    <AssumedRoleUser>
      <Arn>${esc(s.assumedRoleArn)}</Arn>
      <AssumedRoleId>${esc(s.assumedRoleId)}</AssumedRoleId>
    </AssumedRoleUser>`;
}

function credentialsXml(s: StsSession): string {
  return `    <Credentials>
      <SessionToken>${esc(s.sessionToken)}</SessionToken>
      <SecretAccessKey>${esc(s.secretAccessKey)}</SecretAccessKey>
      <Expiration>${new Date(s.expiresAt * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')}</Expiration>
      <AccessKeyId>${esc(s.accessKeyId)}</AccessKeyId>
    </Credentials>`;
}

/** Session tags from a web identity token's `https://aws.amazon.com/tags` claim. */
function webIdentityTags(claims: JWTPayload): { tags: { Key: string; Value: string }[]; transitive: string[] } {
  const claim = claims[TAGS_CLAIM];
  if (claim === undefined) return { tags: [], transitive: [] };
  const bad = (why: string): StsFault => new StsFault(400, 'InvalidIdentityToken', `Invalid session tags in ${TAGS_CLAIM}: ${why}`);
  if (typeof claim !== 'object' || claim === null || Array.isArray(claim)) throw bad('not an object');
  const principal = (claim as Record<string, unknown>).principal_tags;
  const transitive = (claim as Record<string, unknown>).transitive_tag_keys ?? [];
  if (typeof principal !== 'object' || principal === null || Array.isArray(principal)) throw bad('principal_tags must be an object');
  const tags: { Key: string; Value: string }[] = [];
  for (const [Key, values] of Object.entries(principal)) {
    if (!Array.isArray(values) || values.length !== 1 || typeof values[0] !== 'string') throw bad(`tag ${Key} must be an array of one string`);
    tags.push({ Key, Value: values[0] });
  }
  if (!Array.isArray(transitive) || transitive.some((k) => typeof k !== 'string')) throw bad('transitive_tag_keys must be strings');
  checkTags(tags);
  return { tags, transitive: transitive as string[] };
}

function checkTags(tags: readonly { Key: string; Value: string }[]): void {
  if (tags.length > 50) throw validation('tags', 'Member must have length less than or equal to 50');
  const seen = new Set<string>();
  for (const { Key, Value } of tags) {
    if (Key.length < 1 || [...Key].length > 128 || !TAG_PATTERN.test(Key)) throw validation('tags.member.key', 'Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+');
    if ([...Value].length > 256 || !TAG_PATTERN.test(Value)) throw validation('tags.member.value', 'Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*');
    if (/^aws:/i.test(Key)) throw new StsFault(400, 'InvalidParameterValue', 'Tag keys must not start with aws:');
    if (seen.has(Key.toLowerCase())) throw new StsFault(400, 'InvalidParameterValue', 'Duplicate tag keys found. Please note that Tag keys are case insensitive.');
    seen.add(Key.toLowerCase());
  }
}

function checkSourceIdentity(value: unknown): void {
  if (typeof value !== 'string' || value.length < 2 || value.length > 64 || !NAME_PATTERN.test(value) || /^aws:/i.test(value)) {
    throw validation('sourceIdentity', 'Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64');
  }
}

function validation(field: string, constraint: string): StsFault {
  return new StsFault(400, 'ValidationError', `1 validation error detected: Value at '${field}' failed to satisfy constraint: ${constraint}`);
}

function wantsJson(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').split(',').some((t) => t.trim().split(';')[0] === 'application/json');
}

function randomAlnum(n: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = randomBytes(n);
  let out = '';
  for (const b of bytes) out += alphabet[b % 32];
  return out;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
