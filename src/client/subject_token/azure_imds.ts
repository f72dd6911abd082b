/**
 * Subject token source `azure-imds`: the IMDS attested document signed over a nonce Stint issued
 * (`POST /attestation/nonce`, kind `azure`), fetched from
 * `/metadata/attested/document?api-version=2020-09-01&nonce=<nonce>` with `Metadata: true` and
 * presented as IMDS served it. A nonce is good once: every exchange gets a new one.
 */
import { AZURE_IMDS_TOKEN_TYPE } from '../../attestation/token_types.js';
import { StintError } from '../../errors.js';
import type { SubjectTokenSourceConfig } from './schema.js';
import { metadataGet } from './metadata_http.js';
import type { SourceContext, SubjectTokenSource } from './source.js';

/** Create the azure-imds source. */
export function createAzureImdsSource(config: Extract<SubjectTokenSourceConfig, { source: 'azure-imds' }>, ctx: SourceContext): SubjectTokenSource {
  const base = `${config.imdsEndpoint.replace(/\/$/, '')}/metadata/attested/document`;
  return {
    name: config.source,
    read: async () => {
      const nonce = await ctx.nonce('azure');
      if (!/^[0-9]{1,32}$/.test(nonce)) throw new StintError('ERR_UNAVAILABLE', 'azure-imds: Stint answered a nonce IMDS cannot take', { reason: 'bad_response' });
      const text = (await metadataGet(`${base}?${new URLSearchParams({ 'api-version': '2020-09-01', nonce }).toString()}`, { Metadata: 'true' }, 'azure-imds')).trim();
      let envelope: unknown;
      try {
        envelope = JSON.parse(text);
      } catch {
        envelope = undefined;
      }
      if (typeof envelope !== 'object' || envelope === null || typeof (envelope as Record<string, unknown>)['signature'] !== 'string') {
        throw new StintError('ERR_UNAVAILABLE', 'azure-imds: IMDS did not answer with an attested document', { reason: 'metadata_bad_response' });
      }
      return { type: AZURE_IMDS_TOKEN_TYPE, value: text };
    },
  };
}
