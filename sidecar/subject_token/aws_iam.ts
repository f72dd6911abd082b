/** Subject token source `aws-iam` (issue 10): placeholder until its module is built. */
import { StintError } from '../../src/errors.js';
import type { SubjectTokenSourceConfig } from '../config/schema.js';
import type { SourceContext, SubjectTokenSource } from './source.js';

/** Create the aws-iam source. */
export function createAwsIamSource(config: Extract<SubjectTokenSourceConfig, { source: 'aws-iam' }>, _ctx: SourceContext): SubjectTokenSource {
  return {
    name: config.source,
    read: async () => {
      throw new StintError('ERR_INVALID_REQUEST', 'subjectToken.source aws-iam is not available in this build', { reason: 'source_unavailable' });
    },
  };
}
