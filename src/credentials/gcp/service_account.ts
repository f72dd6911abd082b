/**
 * Service account names as request targets. The target is placed in the IAM Credentials URL
 * (`projects/-/serviceAccounts/{target}:generateAccessToken`), so only plain email addresses
 * and numeric unique ids are accepted: nothing that could end the path segment (`/ : ? # %`).
 */

const EMAIL = /^[a-z0-9][a-z0-9._+-]*@[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$/;
const UNIQUE_ID = /^[0-9]{1,32}$/;

/** True when `target` is a service account email (lowercase) or numeric unique id. */
export function isServiceAccountName(target: string): boolean {
  return target.length <= 254 && (EMAIL.test(target) || UNIQUE_ID.test(target));
}

/** The IAM Credentials generateAccessToken URL for a service account. */
export function generateAccessTokenUrl(iamCredentialsEndpoint: string, serviceAccount: string): string {
  return `${iamCredentialsEndpoint}/v1/projects/-/serviceAccounts/${serviceAccount}:generateAccessToken`;
}
