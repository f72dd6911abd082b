/** Subject token source `azure-imds` (issue 10): placeholder until its module is built. */
import { StintError } from '../../src/errors.js';
import type { SubjectTokenSourceConfig } from '../config/schema.js';
import type { SourceContext, SubjectTokenSource } from './source.js';

/** Create the azure-imds source. */
export function createAzureImdsSource(config: Extract<SubjectTokenSourceConfig, { source: 'azure-imds' }>, _ctx: SourceContext): SubjectTokenSource {
  return {
    name: config.source,
    read: async () => {
      throw new StintError('ERR_INVALID_REQUEST', 'subjectToken.source azure-imds is not available in this build', { reason: 'source_unavailable' });
    },
  };
}
