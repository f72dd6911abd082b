/** Policy v1: one YAML file, deny by default. See README.md in this folder for the format. */
export { compilePolicy, CompiledPolicy, type CompileOptions, type PolicyAllowInfo, type PolicyRuleInfo } from './compile.js';
export { loadPolicyFile, loadPolicyFiles, type PolicyFiles } from './load.js';
export type { CredentialRequest, Decision, DecisionReason, FailedCondition, GrantedCredential, PolicyEngine, RequestContext } from './decision.js';
export type { MatcherSpec, PatternSpec } from './matcher.js';
export type { PolicyProblem } from './source.js';
