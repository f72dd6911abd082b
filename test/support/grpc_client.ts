/** A real @grpc/grpc-js client of Stint's services for tests. */
import * as grpc from '@grpc/grpc-js';
import { loadStintProto } from '../../src/grpc/stint_proto.js';

/** Result of a unary call: the response or the error with Stint's trailer code. */
export type CallResult<T> = { ok: true; value: T } | { ok: false; code: number; stintCode: string | undefined; details: string; reason: string | undefined };

type Ctor = grpc.ServiceClientConstructor;

/** Clients of TokenExchange and Admin. */
export class StintGrpcClient {
  private readonly exchange: grpc.Client;
  private readonly admin: grpc.Client | null;

  constructor(grpcAddress: string, adminAddress?: string) {
    const proto = grpc.loadPackageDefinition(loadStintProto()) as unknown as { stint: { v1: { TokenExchange: Ctor; Admin: Ctor } } };
    this.exchange = new proto.stint.v1.TokenExchange(grpcAddress, grpc.credentials.createInsecure());
    this.admin = adminAddress ? new proto.stint.v1.Admin(adminAddress, grpc.credentials.createInsecure()) : null;
  }

  /** Call TokenExchange/Exchange. */
  call<T = Record<string, unknown>>(request: Record<string, unknown>): Promise<CallResult<T>> {
    return this.unary(this.exchange, 'Exchange', request, new grpc.Metadata());
  }

  /** Call an Admin method with an optional bearer token. */
  adminCall<T = Record<string, unknown>>(method: string, request: Record<string, unknown>, token?: string): Promise<CallResult<T>> {
    const md = new grpc.Metadata();
    if (token) md.set('authorization', `Bearer ${token}`);
    return this.unary(this.admin!, method, request, md);
  }

  close(): void {
    this.exchange.close();
    this.admin?.close();
  }

  private unary<T>(client: grpc.Client, method: string, request: Record<string, unknown>, md: grpc.Metadata): Promise<CallResult<T>> {
    return new Promise((resolve) => {
      const fn = (client as unknown as Record<string, (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: T) => void) => void>)[method]!;
      fn.call(client, request, md, { deadline: Date.now() + 15_000 }, (err, res) => {
        if (!err) return resolve({ ok: true, value: res });
        const stintCode = err.metadata?.get('stint-error-code')[0];
        const reason = err.metadata?.get('stint-reason')[0];
        resolve({ ok: false, code: err.code, stintCode: typeof stintCode === 'string' ? stintCode : undefined, details: err.details, reason: typeof reason === 'string' ? reason : undefined });
      });
    });
  }
}
