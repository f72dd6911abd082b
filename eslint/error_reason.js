/**
 * One style for `details.reason` (issue 13): the reason a StintError or TokenError carries in its
 * details is a lower snake_case sub-code (`too_old`, `sts_unavailable`), documented in
 * src/errors.ts. This rule flags a string-literal `reason` in the details object of
 * `new StintError(code, message, details)` / `new TokenError(...)` that is not /^[a-z][a-z0-9_]*$/.
 * Policy decision reason codes (UPPER_CASE, PolicyDeniedError's own argument) are another field.
 */

const REASON = /^[a-z][a-z0-9_]*$/;
const CONSTRUCTORS = new Set(['StintError', 'TokenError']);

/** The static text of a string literal or of a template literal without expressions; else undefined. */
function literalText(node) {
  if (node.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node.type === 'TemplateLiteral' && node.expressions.length === 0) return node.quasis[0].value.cooked;
  return undefined;
}

/** The name of a property key (`reason`, `'reason'`), or undefined for a computed one. */
function keyName(property) {
  if (property.computed) return undefined;
  if (property.key.type === 'Identifier') return property.key.name;
  if (property.key.type === 'Literal') return String(property.key.value);
  return undefined;
}

/** The `error-reason` rule. */
export const errorReasonRule = {
  meta: {
    type: 'problem',
    docs: { description: 'details.reason of StintError/TokenError is lower snake_case (issue 13; see src/errors.ts)' },
    schema: [],
  },
  create(context) {
    return {
      NewExpression(node) {
        if (node.callee.type !== 'Identifier' || !CONSTRUCTORS.has(node.callee.name)) return;
        const details = node.arguments[2];
        if (!details || details.type !== 'ObjectExpression') return;
        for (const property of details.properties) {
          if (property.type !== 'Property' || keyName(property) !== 'reason') continue;
          const text = literalText(property.value);
          if (text !== undefined && !REASON.test(text)) {
            context.report({ node: property.value, message: `details.reason ${JSON.stringify(text)} of ${node.callee.name} must be lower snake_case (/^[a-z][a-z0-9_]*$/, see src/errors.ts)` });
          }
        }
      },
    };
  },
};
