/**
 * A local AWS IAM on loopback speaking the real Query API wire format, for the aws-sts provider's
 * "revoke older sessions" tests with the unmodified @aws-sdk/client-iam pointed at it by its
 * `endpoint` setting.
 *
 * Requests are SigV4-signed form-encoded POSTs (`Action=PutRolePolicy&Version=2010-05-08&...`,
 * service `iam`), checked with test/support/sigv4.ts against the configured principals' keys.
 * Answers are the XML documents IAM sends (`<GetRolePolicyResponse
 * xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRolePolicyResult><PolicyName>...`), the
 * policy document URL-encoded as IAM returns it, and errors as `<ErrorResponse><Error><Type>
 * <Code>NoSuchEntity</Code><Message>...` with IAM's HTTP status (404 for NoSuchEntity, 400
 * MalformedPolicyDocument, 403 AccessDenied / InvalidClientTokenId / SignatureDoesNotMatch).
 *
 * Actions: PutRolePolicy, GetRolePolicy, DeleteRolePolicy on the roles added with `addRole`.
 * Every request is recorded (`calls`); failures are injected with `fail` / `failNext`.
 */
import { closeWithConnections, connectionFailure, FailureSwitch, readQueryForm } from './aws_query_server.js';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseSigV4, rfc3986, sigV4Matches } from './sigv4.js';

const NS = 'https://iam.amazonaws.com/doc/2010-05-08/';
const NAME = /^[\w+=,.@-]{1,128}$/;

/** A principal allowed to call IAM. */
export interface IamPrincipal {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** An injected IAM error answer. */
export interface IamErrorAnswer {
  readonly status: number;
  readonly code: string;
  readonly type?: 'Sender' | 'Receiver';
  readonly message?: string;
}

/** How the fake misbehaves besides an error answer. */
export type IamFailureMode = 'none' | 'close' | 'hang' | IamErrorAnswer;

/** One request the fake received. */
export interface IamCall {
  readonly action: string;
  readonly params: Readonly<Record<string, string>>;
  /** The access key id the request was signed with (absent when unsigned). */
  readonly signedBy?: string;
  /** `ok`, or the IAM error code answered. */
  outcome: string;
}

class IamFault extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: 'Sender' | 'Receiver' = status >= 500 ? 'Receiver' : 'Sender',
  ) {
    super(message);
  }
}

/** A loopback IAM; create with {@link FakeIam.start}. */
export class FakeIam {
  /** `http://127.0.0.1:<port>`: the SDK's `endpoint`. */
  readonly url: string;
  /** Every request, in order. */
  readonly calls: IamCall[] = [];
  /** The account id in ARNs. */
  readonly accountId = '123456789012';

  readonly #close: () => Promise<void>;
  readonly #principals = new Map<string, IamPrincipal>();
  /** role name → policy name → policy document (JSON text as written). */
  readonly #roles = new Map<string, Map<string, string>>();
  /** Called after each successful PutRolePolicy (e.g. to play a concurrent writer). */
  afterPut: ((role: string, policy: string) => void) | null = null;
  readonly #failures = new FailureSwitch<Exclude<IamFailureMode, 'none'>>();

  private constructor(server: Server, url: string, principals: readonly IamPrincipal[]) {
    this.url = url;
    for (const p of principals) this.#principals.set(p.accessKeyId, p);
    this.#close = closeWithConnections(server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res));
  }

  /** Start on a loopback port chosen by the OS. */
  static async start(options: { principals?: readonly IamPrincipal[]; roles?: readonly string[] } = {}): Promise<FakeIam> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const iam = new FakeIam(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, options.principals ?? []);
    for (const r of options.roles ?? []) iam.addRole(r);
    return iam;
  }

  /** A role ARN in the fake's account. */
  roleArn(name: string): string {
    return `arn:aws:iam::${this.accountId}:role/${name}`;
  }

  /** Create a role (no inline policies). */
  addRole(name: string): void {
    if (!this.#roles.has(name)) this.#roles.set(name, new Map());
  }

  /** An inline policy of a role as parsed JSON, or undefined. */
  rolePolicy(role: string, policy: string): unknown {
    const text = this.#roles.get(role)?.get(policy);
    return text === undefined ? undefined : JSON.parse(text);
  }

  /** Set an inline policy directly (as an operator with the console would). */
  putRolePolicy(role: string, policy: string, document: unknown): void {
    this.addRole(role);
    this.#roles.get(role)!.set(policy, JSON.stringify(document));
  }

  /** Fail every call until `recover()`. */
  fail(mode: IamFailureMode): void {
    this.#failures.always(mode);
  }

  /** Fail only the next `times` calls. */
  failNext(mode: IamFailureMode, times = 1): void {
    this.#failures.next(mode, times);
  }

  /** Serve normally again. */
  recover(): void {
    this.#failures.recover();
  }

  /** Calls of one action. */
  callsOf(action: string): IamCall[] {
    return this.calls.filter((c) => c.action === action);
  }

  /** Stop listening and drop open connections. */
  async close(): Promise<void> {
    await this.#close();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { body, form } = await readQueryForm(req);
    const params: Record<string, string> = {};
    for (const [k, v] of form) params[k] = v;
    const sig = parseSigV4(req);
    const call: IamCall = { action: form.get('Action') ?? '', params, ...(sig ? { signedBy: sig.accessKeyId } : {}), outcome: 'ok' };
    this.calls.push(call);
    const failure = this.#failures.take();
    if (connectionFailure(failure, call, req)) return;
    try {
      if (req.method !== 'POST') throw new IamFault(405, 'InvalidAction', 'IAM Query API requests are POSTs here');
      this.#authenticate(req, body, sig);
      if (failure !== 'none') throw new IamFault(failure.status, failure.code, failure.message ?? failure.code, failure.type);
      if (form.get('Version') !== '2010-05-08') throw new IamFault(400, 'InvalidParameterValue', 'Version must be 2010-05-08');
      let result: string;
      switch (call.action) {
        case 'PutRolePolicy':
          this.#putRolePolicy(form);
          result = '';
          break;
        case 'GetRolePolicy':
          result = this.#getRolePolicy(form);
          break;
        case 'DeleteRolePolicy':
          this.#policies(form).delete(this.#policyName(form, true));
          result = '';
          break;
        default:
          throw new IamFault(400, 'InvalidAction', `Could not find operation ${call.action} for version 2010-05-08`);
      }
      const xml = `<${call.action}Response xmlns="${NS}">\n${result}  <ResponseMetadata>\n    <RequestId>${randomUUID()}</RequestId>\n  </ResponseMetadata>\n</${call.action}Response>\n`;
      res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() }).end(xml);
    } catch (err) {
      const fault = err instanceof IamFault ? err : new IamFault(500, 'ServiceFailure', String((err as Error).message));
      call.outcome = fault.code;
      const requestId = randomUUID();
      res
        .writeHead(fault.status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId })
        .end(`<ErrorResponse xmlns="${NS}">\n  <Error>\n    <Type>${fault.type}</Type>\n    <Code>${esc(fault.code)}</Code>\n    <Message>${esc(fault.message)}</Message>\n  </Error>\n  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`);
    }
  }

  #authenticate(req: IncomingMessage, body: string, sig: ReturnType<typeof parseSigV4>): void {
    if (!sig) throw new IamFault(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
    if (sig.service !== 'iam') throw new IamFault(403, 'SignatureDoesNotMatch', `Credential should be scoped to correct service: 'iam'.`);
    const principal = this.#principals.get(sig.accessKeyId);
    if (!principal) throw new IamFault(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    if (!sigV4Matches(req, body, sig, principal.secretAccessKey)) {
      throw new IamFault(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
    }
  }

  #roleName(form: URLSearchParams): string {
    const role = form.get('RoleName') ?? '';
    if (!/^[\w+=,.@-]{1,64}$/.test(role)) throw new IamFault(400, 'ValidationError', `1 validation error detected: Value '${role}' at 'roleName' failed to satisfy constraint`);
    return role;
  }

  #policies(form: URLSearchParams): Map<string, string> {
    const role = this.#roleName(form);
    const policies = this.#roles.get(role);
    if (!policies) throw new IamFault(404, 'NoSuchEntity', `The role with name ${role} cannot be found.`);
    return policies;
  }

  #policyName(form: URLSearchParams, mustExist: boolean): string {
    const name = form.get('PolicyName') ?? '';
    if (!NAME.test(name)) throw new IamFault(400, 'ValidationError', `1 validation error detected: Value '${name}' at 'policyName' failed to satisfy constraint`);
    if (mustExist && !this.#policies(form).has(name)) throw new IamFault(404, 'NoSuchEntity', `The role policy with name ${name} cannot be found.`);
    return name;
  }

  #putRolePolicy(form: URLSearchParams): void {
    const policies = this.#policies(form);
    const name = this.#policyName(form, false);
    const text = form.get('PolicyDocument') ?? '';
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new IamFault(400, 'MalformedPolicyDocument', 'Syntax errors in policy.');
    }
    if (typeof doc !== 'object' || doc === null || !('Statement' in doc)) throw new IamFault(400, 'MalformedPolicyDocument', 'Policy document must contain Statement.');
    if (text.length > 10240) throw new IamFault(409, 'LimitExceeded', 'Maximum policy size of 10240 bytes exceeded for role');
    policies.set(name, text);
    this.afterPut?.(form.get('RoleName') ?? '', name);
  }

  #getRolePolicy(form: URLSearchParams): string {
    const name = this.#policyName(form, true);
    const role = this.#roleName(form);
    const text = this.#policies(form).get(name)!;
    // IAM returns the policy document URL-encoded (RFC 3986).
    return `  <GetRolePolicyResult>\n    <PolicyName>${esc(name)}</PolicyName>\n    <RoleName>${esc(role)}</RoleName>\n    <PolicyDocument>${esc(rfc3986(text))}</PolicyDocument>\n  </GetRolePolicyResult>\n`;
  }
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
