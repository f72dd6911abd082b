/**
 * Configuration of a kubernetes attestor's `tokenReview:`: how Stint reaches the cluster's API
 * server to ask it (TokenReview) whether it still accepts a token that verified locally. Every
 * key has the in-cluster default, so `tokenReview: {}` works for a Stint running in the cluster
 * whose tokens it reviews. A leaf module: the service configuration embeds it.
 */
import { z } from 'zod';
import { boundedDuration } from '../../config/fields.js';
import { IN_CLUSTER_CA_FILE, IN_CLUSTER_SERVER, IN_CLUSTER_TOKEN_FILE } from '../../kube/in_cluster.js';

/** `attestors[].tokenReview` of a kubernetes attestor. */
export const tokenReviewConfigSchema = z
  .object({
    /** API server URL (https only). */
    apiServer: z.string().url().regex(/^https:\/\//, 'must be an https:// URL').default(IN_CLUSTER_SERVER),
    /** CA bundle (PEM) that signs the API server's certificate. */
    caFile: z.string().min(1).default(IN_CLUSTER_CA_FILE),
    /** Stint's own bearer token for the API server, re-read on every review (a rotated projected token is picked up). */
    tokenFile: z.string().min(1).default(IN_CLUSTER_TOKEN_FILE),
    /** Timeout of one review; past it the exchange fails as unavailable (retryable), not as a denial. */
    timeout: boundedDuration(1, 60).default(5),
    /** How long a successful review is reused for the same token (never past its `exp`); 0 reviews every time. */
    cacheTtl: boundedDuration(0, 300).default(30),
  })
  .strict();

/** The validated `tokenReview:` of a kubernetes attestor. */
export type TokenReviewConfig = z.infer<typeof tokenReviewConfigSchema>;
