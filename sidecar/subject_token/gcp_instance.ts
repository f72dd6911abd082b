/** Subject token source `gcp-instance` (issue 10): placeholder until its module is built. */
import { StintError } from '../../src/errors.js';
import type { SubjectTokenSourceConfig } from '../config/schema.js';
import type { SourceContext, SubjectTokenSource } from './source.js';

/** Create the gcp-instance source. */
export function createGcpInstanceSource(config: Extract<SubjectTokenSourceConfig, { source: 'gcp-instance' }>, _ctx: SourceContext): SubjectTokenSource {
  return {
    name: config.source,
    read: async () => {
      throw new StintError('ERR_INVALID_REQUEST', 'subjectToken.source gcp-instance is not available in this build', { reason: 'source_unavailable' });
    },
  };
}
