/**
 * Subject token source `gcp-instance`: the VM's instance identity token from the GCE metadata
 * server (`/computeMetadata/v1/instance/service-accounts/default/identity?audience=<Stint>&format=full`,
 * `Metadata-Flavor: Google`), fetched fresh for every exchange (Stint refuses old ones).
 */
import { GCP_INSTANCE_TOKEN_TYPE } from '../../attestation/token_types.js';
import { StintError } from '../../errors.js';
import type { SubjectTokenSourceConfig } from './schema.js';
import { metadataGet } from './metadata_http.js';
import type { SourceContext, SubjectTokenSource } from './source.js';

/** Create the gcp-instance source. */
export function createGcpInstanceSource(config: Extract<SubjectTokenSourceConfig, { source: 'gcp-instance' }>, _ctx: SourceContext): SubjectTokenSource {
  const host = config.metadataHost ?? process.env['GCE_METADATA_HOST'] ?? 'metadata.google.internal';
  const query = new URLSearchParams({ audience: config.audience, format: 'full' });
  const url = `http://${host}/computeMetadata/v1/instance/service-accounts/default/identity?${query.toString()}`;
  return {
    name: config.source,
    read: async () => {
      const token = (await metadataGet(url, { 'Metadata-Flavor': 'Google' }, 'gcp-instance')).trim();
      if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) throw new StintError('ERR_UNAVAILABLE', 'gcp-instance: the metadata server did not answer with a JWT', { reason: 'metadata_bad_response' });
      return { type: GCP_INSTANCE_TOKEN_TYPE, value: token };
    },
  };
}
