// ESLint flat config: typescript-eslint recommended rules over src/, sidecar/ and test/, and the
// import boundaries of issue 13 (stint/layers, eslint/layers.js) over src/ and sidecar/, and one
// style for details.reason of StintError/TokenError (stint/error-reason, eslint/error_reason.js).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { layersPlugin } from './eslint/layers.js';
import { errorReasonRule } from './eslint/error_reason.js';

/**
 * Stint's layers, top first: a module imports its own folder, any lower layer and the leaves.
 * Units of one row are siblings and never import each other (the plugin kinds: attestors and
 * credential providers; keys and audit).
 */
const LAYERS = {
  layers: [
    ['cli', 'github_action'], // entry programs
    ['service', 'dev'], // composition of the service (dev mode composes a development one)
    ['webhook'],
    ['transport'],
    ['pipeline'],
    ['lifecycle'], // the reaper: expiry, revocation retries, reconciliation
    ['policy'],
    ['attestation', 'credentials'], // the plugin kinds
    ['keys', 'audit'],
    ['grants'], // the words providers, policy and the reaper share about a grant
    ['store'],
    ['config'],
  ],
  /** Dependency-free modules any layer and the sidecar may import; they import only each other. */
  leaves: ['errors', 'clock', 'ids', 'duration', 'fingerprint', 'key_path', 'net', 'http', 'upstream', 'kube', 'identity', 'telemetry', 'limits', 'grpc', 'github', 'client', 'files', 'duration_field'],
  /** Imports the layer order would allow, refused all the same. */
  forbidden: [
    { from: 'src/webhook/', to: 'src/transport/', why: 'the webhook is its own listener: it shares src/http and src/net, not the exchange transport' },
    { from: 'src/webhook/', to: 'src/config/load', why: 'the webhook takes its settings from its caller (TLS files: src/config/tls.ts)' },
    { from: 'src/cli/', to: 'src/transport/', why: 'the CLI is a client: the proto loader is src/grpc/stint_proto.ts' },
    { from: 'src/cli/', to: 'src/github_action/', why: 'the action\'s step is src/github/exchange_step.ts' },
    { from: 'src/transport/', to: 'src/store/', why: 'transports are adapters over the pipeline (the Admin service is pipeline/admin.ts)' },
  ],
  /** Explicit exceptions, each with its reason. */
  exceptions: [
    // The configuration schema is composed from the plugin registries (every kind listed once, issue
    // 13), the webhook's and the store's settings: config/schema.ts and load.ts sit above them.
    { from: 'src/config/schema', to: 'src/attestation/' },
    { from: 'src/config/schema', to: 'src/credentials/registry' },
    { from: 'src/config/schema', to: 'src/webhook/settings' },
    { from: 'src/config/schema', to: 'src/store/config' },
    { from: 'src/config/load', to: 'src/attestation/registry' },
    // WorkloadIdentity is the one identity type every layer speaks; providers read it from the
    // attestor seam (types only, no attestor code).
    { from: 'src/credentials/', to: 'src/attestation/attestor' },
    // RFC 8693 token type URNs: constants the clients send and the attestors accept.
    { from: 'sidecar/', to: 'src/attestation/token_types' },
    { from: 'src/client/', to: 'src/attestation/token_types' },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'charts/**', '.stint/**', 'action/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  { files: ['src/cli/**', 'test/**', 'sidecar/**'], rules: { 'no-console': 'off' } },
  {
    files: ['src/**/*.ts', 'sidecar/**/*.ts'],
    plugins: { stint: { rules: { ...layersPlugin(LAYERS).rules, 'error-reason': errorReasonRule } } },
    rules: { 'stint/layers': 'error', 'stint/error-reason': 'error' },
  },
);
