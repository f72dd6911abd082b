/**
 * Loading Stint's protobuf definitions (proto/stint/v1/stint.proto): what the gRPC servers and
 * the gRPC clients (the `stint` admin commands, tests) share, apart from either of them.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';

/** Locate proto/ from both src/ (tests) and dist/src/ (built). */
export function protoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(resolve(dir, 'proto/stint/v1/stint.proto'))) return resolve(dir, 'proto');
    dir = dirname(dir);
  }
  throw new Error('proto/stint/v1/stint.proto not found');
}

/** Load the Stint protobuf package definition. */
export function loadStintProto(): protoLoader.PackageDefinition {
  return protoLoader.loadSync('stint/v1/stint.proto', {
    includeDirs: [protoRoot()],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    arrays: true,
    objects: true,
  });
}
