/**
 * A local stand-in for GitHub's Actions OIDC token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL): it
 * checks the request token like GitHub does and mints tokens with GitHub's claim set from a test
 * issuer, for the audience the caller asks for.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GithubTokenOptions, TestIssuer } from './test_issuer.js';

/** The endpoint and the claims of the job it pretends to run. */
export class FakeGithubOidc {
  /** Requests received (audience asked for), in order. */
  readonly audiences: string[] = [];
  job: Omit<GithubTokenOptions, 'audience'>;

  private constructor(
    private readonly server: Server,
    readonly requestUrl: string,
    readonly requestToken: string,
  ) {
    this.job = { repository: 'acme/deployer', repositoryId: 123456, ownerId: 654321, ref: 'refs/heads/main', environment: 'production' };
  }

  /** Start on a free loopback port, minting with `issuer`. */
  static async start(issuer: TestIssuer): Promise<FakeGithubOidc> {
    const requestToken = `gha-request-${Math.random().toString(36).slice(2)}`;
    const ref: { self?: FakeGithubOidc } = {};
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== '/token' || req.headers.authorization !== `Bearer ${requestToken}`) {
        res.writeHead(req.headers.authorization ? 403 : 401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Bad credentials' }));
        return;
      }
      const audience = url.searchParams.get('audience') ?? 'https://github.com/acme';
      ref.self!.audiences.push(audience);
      void issuer.mintGithub({ ...ref.self!.job, audience }).then((value) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ count: 1, value }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    ref.self = new FakeGithubOidc(server, `http://127.0.0.1:${port}/token?api-version=2.0`, requestToken);
    return ref.self;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}
