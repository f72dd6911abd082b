/** google-auth-library (~9 MiB with gaxios), imported at the first GCP call rather than at start. */
let loaded: Promise<typeof import('google-auth-library')> | null = null;

/** The google-auth-library module, loaded once. */
export function googleAuth(): Promise<typeof import('google-auth-library')> {
  loaded ??= import('google-auth-library');
  return loaded;
}
