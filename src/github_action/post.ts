/** Post step of the GitHub Action (bundled into action/post.js): revoke the grant when the job ends. */
import * as core from '@actions/core';
import { readInputs } from './inputs.js';
import { runRevokeStep } from '../github/exchange_step.js';

try {
  const grantId = core.getState('grant-id');
  if (grantId) await runRevokeStep(readInputs(), grantId);
} catch (e) {
  core.warning(`Stint revocation failed: ${(e as Error).message}`);
}
