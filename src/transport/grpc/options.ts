/**
 * The grpc-js server options of Stint's gRPC listeners, apart from the servers so that the
 * benchmark's bare echo (test/bench/echo_server.ts) runs with the very same ones.
 */
import type { ServerOptions } from '@grpc/grpc-js';
import type { GrpcConnectionLimits } from '../../net/connections.js';

/**
 * Message cap, keepalive and connection idle/age limits; channelz off: Stint serves no channelz
 * service, so its per-call and per-message bookkeeping would be read by nobody.
 */
export function grpcServerOptions(limits: GrpcConnectionLimits): ServerOptions {
  return {
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
    'grpc.keepalive_time_ms': limits.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
    'grpc.max_connection_idle_ms': limits.maxConnectionIdleMs,
    'grpc.max_connection_age_ms': limits.maxConnectionAgeMs,
    'grpc.max_connection_age_grace_ms': limits.maxConnectionAgeGraceMs,
    'grpc.enable_channelz': 0,
  };
}
