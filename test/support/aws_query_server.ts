/**
 * What the local AWS Query API servers (STS, IAM, EC2) share: reading the form-encoded request
 * body (kept as text: SigV4 signs it), closing without waiting for keep-alive sockets, and the
 * injected failures (every call until recovered, or the next n calls).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';

/** The request body as text and as the form it encodes. */
export async function readQueryForm(req: IncomingMessage): Promise<{ body: string; form: URLSearchParams }> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');
  return { body, form: new URLSearchParams(body) };
}

/** A close for `server` that also destroys its open connections (SDK clients keep them alive). */
export function closeWithConnections(server: Server): () => Promise<void> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

/** Injected failures of a fake: `always` until `recover()`, or queued for the next calls. */
export class FailureSwitch<M> {
  #always: M | 'none' = 'none';
  readonly #queue: (M | 'none')[] = [];

  /** Fail every call in `mode` until `recover()`. */
  always(mode: M | 'none'): void {
    this.#always = mode;
  }

  /** Fail only the next `times` calls in `mode`. */
  next(mode: M | 'none', times = 1): void {
    for (let i = 0; i < times; i++) this.#queue.push(mode);
  }

  /** Serve normally again. */
  recover(): void {
    this.#always = 'none';
    this.#queue.length = 0;
  }

  /** The failure of the call now being served ('none': serve it). */
  take(): M | 'none' {
    return this.#queue.shift() ?? this.#always;
  }
}

/** Play a connection-level failure: 'close' drops the socket, 'hang' never answers; true when the call ends here. */
export function connectionFailure<F>(failure: F, call: { outcome: string }, req: IncomingMessage): failure is Extract<F, 'close' | 'hang'> {
  if (failure === 'close') {
    call.outcome = 'closed';
    req.socket.destroy();
    return true;
  }
  if (failure === 'hang') {
    call.outcome = 'hung';
    return true;
  }
  return false;
}
