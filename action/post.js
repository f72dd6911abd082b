import { createRequire as __stintCreateRequire } from 'node:module'; const require = __stintCreateRequire(import.meta.url);
import {
  getState,
  readInputs,
  runRevokeStep,
  warning
} from "./chunks/chunk.js";

// src/github_action/post.ts
try {
  const grantId = getState("grant-id");
  if (grantId) await runRevokeStep(readInputs(), grantId);
} catch (e) {
  warning(`Stint revocation failed: ${e.message}`);
}
