/**
 * Subject token source `azure-msi`: a managed identity access token for Stint's application id
 * URI from Azure IMDS (`/metadata/identity/oauth2/token?api-version=2018-02-01&resource=...`,
 * `Metadata: true`), the system-assigned identity or the user-assigned one named by `clientId`.
 * IMDS caches tokens itself; the source asks before every exchange.
 */
import { AZURE_MSI_TOKEN_TYPE } from '../../attestation/token_types.js';
import { StintError } from '../../errors.js';
import type { SubjectTokenSourceConfig } from './schema.js';
import { metadataGet } from './metadata_http.js';
import type { SourceContext, SubjectTokenSource } from './source.js';

/** Create the azure-msi source. */
export function createAzureMsiSource(config: Extract<SubjectTokenSourceConfig, { source: 'azure-msi' }>, _ctx: SourceContext): SubjectTokenSource {
  const query = new URLSearchParams({ 'api-version': '2018-02-01', resource: config.resource, ...(config.clientId ? { client_id: config.clientId } : {}) });
  const url = `${config.imdsEndpoint.replace(/\/$/, '')}/metadata/identity/oauth2/token?${query.toString()}`;
  return {
    name: config.source,
    read: async () => {
      const text = await metadataGet(url, { Metadata: 'true' }, 'azure-msi');
      let token: unknown;
      try {
        token = (JSON.parse(text) as Record<string, unknown>)['access_token'];
      } catch {
        token = undefined;
      }
      if (typeof token !== 'string' || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) {
        throw new StintError('ERR_UNAVAILABLE', 'azure-msi: IMDS did not answer with an access token', { reason: 'metadata_bad_response' });
      }
      return { type: AZURE_MSI_TOKEN_TYPE, value: token };
    },
  };
}
