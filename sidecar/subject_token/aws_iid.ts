/** Subject token source `aws-iid` (issue 10): placeholder until its module is built. */
import { StintError } from '../../src/errors.js';
import type { SubjectTokenSourceConfig } from '../config/schema.js';
import type { SourceContext, SubjectTokenSource } from './source.js';

/** Create the aws-iid source. */
export function createAwsIidSource(config: Extract<SubjectTokenSourceConfig, { source: 'aws-iid' }>, _ctx: SourceContext): SubjectTokenSource {
  return {
    name: config.source,
    read: async () => {
      throw new StintError('ERR_INVALID_REQUEST', 'subjectToken.source aws-iid is not available in this build', { reason: 'source_unavailable' });
    },
  };
}
