/**
 * A local EC2 API on loopback speaking the real Query/XML wire format, for the aws-iid
 * attestor's DescribeInstances check with the unmodified @aws-sdk/client-ec2 pointed at it by its
 * `endpoint` setting.
 *
 * Requests are SigV4-signed form POSTs (`Action=DescribeInstances&Version=2016-11-15&InstanceId.1=...`);
 * the signature is verified for real against the configured principals (service `ec2`), as
 * fake_sts.ts does for STS. Answers are EC2's XML (`<DescribeInstancesResponse
 * xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` with `reservationSet/item/instancesSet/item`,
 * `instanceState`, `tagSet`), errors EC2's `<Response><Errors><Error><Code>`: an unknown instance
 * is `InvalidInstanceID.NotFound` (400), a bad signature `AuthFailure` (401).
 */
import { closeWithConnections, readQueryForm } from './aws_query_server.js';
import { parseSigV4, sigV4Matches } from './sigv4.js';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const STATE_CODES: Readonly<Record<string, number>> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };

/** An instance the fake knows. */
export interface FakeInstance {
  instanceId: string;
  ownerId: string;
  state: 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';
  tags: Record<string, string>;
}

/** A principal allowed to call the API. */
export interface Ec2Principal {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** One request received. */
export interface Ec2Call {
  readonly action: string;
  readonly instanceIds: readonly string[];
  readonly signedBy: string | undefined;
  outcome: string;
}

class Ec2Fault extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** A loopback EC2; create with {@link FakeEc2.start}. */
export class FakeEc2 {
  /** `http://127.0.0.1:<port>`: the SDK's `endpoint`. */
  readonly url: string;
  readonly calls: Ec2Call[] = [];
  readonly #close: () => Promise<void>;
  readonly #instances = new Map<string, FakeInstance>();
  readonly #principals = new Map<string, Ec2Principal>();

  private constructor(server: Server, url: string, options: { principals?: readonly Ec2Principal[] }) {
    this.url = url;
    for (const p of options.principals ?? []) this.#principals.set(p.accessKeyId, p);
    this.#close = closeWithConnections(server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res));
  }

  /** Start on a loopback port chosen by the OS. */
  static async start(options: { principals?: readonly Ec2Principal[] } = {}): Promise<FakeEc2> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new FakeEc2(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, options);
  }

  /** Add (or replace) an instance. */
  addInstance(i: FakeInstance): void {
    this.#instances.set(i.instanceId, { ...i, tags: { ...i.tags } });
  }

  /** Change an instance's state (stop, terminate). */
  setState(instanceId: string, state: FakeInstance['state']): void {
    const i = this.#instances.get(instanceId);
    if (!i) throw new Error(`unknown instance ${instanceId}`);
    i.state = state;
  }

  async close(): Promise<void> {
    await this.#close();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { body, form } = await readQueryForm(req);
    const instanceIds = [...form].filter(([k]) => /^InstanceId\.\d+$/.test(k)).map(([, v]) => v);
    const call: Ec2Call = { action: form.get('Action') ?? '', instanceIds, signedBy: /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1], outcome: 'ok' };
    this.calls.push(call);
    const requestId = randomUUID();
    try {
      if (req.method !== 'POST') throw new Ec2Fault(400, 'InvalidAction', 'POST only here');
      this.#verifySignature(req, body);
      if (call.action !== 'DescribeInstances') throw new Ec2Fault(400, 'InvalidAction', `The action ${call.action} is not valid for this web service.`);
      if (form.get('Version') !== '2016-11-15') throw new Ec2Fault(400, 'InvalidParameterValue', 'Version');
      const missing = instanceIds.find((id) => !this.#instances.has(id));
      if (missing) throw new Ec2Fault(400, 'InvalidInstanceID.NotFound', `The instance ID '${missing}' does not exist`);
      const found = instanceIds.map((id) => this.#instances.get(id)!);
      const items = found.map((i) => `      <item>
        <reservationId>r-${i.instanceId.slice(2)}</reservationId>
        <ownerId>${i.ownerId}</ownerId>
        <groupSet/>
        <instancesSet>
          <item>
            <instanceId>${i.instanceId}</instanceId>
            <instanceState>
              <code>${STATE_CODES[i.state]}</code>
              <name>${i.state}</name>
            </instanceState>
            <tagSet>${Object.entries(i.tags).map(([k, v]) => `
              <item>
                <key>${esc(k)}</key>
                <value>${esc(v)}</value>
              </item>`).join('')}
            </tagSet>
          </item>
        </instancesSet>
      </item>`).join('\n');
      res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8' }).end(`<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="${NS}">
    <requestId>${requestId}</requestId>
    <reservationSet>
${items}
    </reservationSet>
</DescribeInstancesResponse>`);
    } catch (e) {
      const f = e instanceof Ec2Fault ? e : new Ec2Fault(500, 'InternalError', 'internal');
      call.outcome = f.code;
      res.writeHead(f.status, { 'content-type': 'text/xml;charset=UTF-8' }).end(`<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>${esc(f.code)}</Code><Message>${esc(f.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`);
    }
  }

  /** SigV4 over the canonical request, as EC2 checks it (service ec2). */
  #verifySignature(req: IncomingMessage, body: string): void {
    const sig = parseSigV4(req);
    const principal = sig ? this.#principals.get(sig.accessKeyId) : undefined;
    if (!sig || !principal || sig.service !== 'ec2') throw new Ec2Fault(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials');
    if (!sig.amzDate.startsWith(sig.date) || !sig.signedHeaders.includes('host') || !sig.signedHeaders.includes('x-amz-date')) throw new Ec2Fault(401, 'AuthFailure', 'signature scope');
    if (!sigV4Matches(req, body, sig, principal.secretAccessKey)) throw new Ec2Fault(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials');
  }
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
