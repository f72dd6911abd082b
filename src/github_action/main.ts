/** Entry point of the GitHub Action (bundled into action/index.js). */
import * as core from '@actions/core';
import { readInputs } from './inputs.js';
import { runExchangeStep, StepFailed } from '../github/exchange_step.js';

try {
  await runExchangeStep(readInputs());
} catch (e) {
  if (!(e instanceof StepFailed)) core.setFailed(`Stint exchange failed: ${(e as Error).message}`);
}
