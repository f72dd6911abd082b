import { createRequire as __stintCreateRequire } from 'node:module'; const require = __stintCreateRequire(import.meta.url);
import {
  StepFailed,
  readInputs,
  runExchangeStep,
  setFailed
} from "./chunks/chunk.js";

// src/github_action/main.ts
try {
  await runExchangeStep(readInputs());
} catch (e) {
  if (!(e instanceof StepFailed)) setFailed(`Stint exchange failed: ${e.message}`);
}
