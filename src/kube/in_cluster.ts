/**
 * Where a pod finds its own cluster's API server: the defaults of every Kubernetes connection
 * Stint makes (the kubernetes providers and the kubernetes attestor's TokenReview).
 */

/** The in-cluster API server, as every pod sees it. */
export const IN_CLUSTER_SERVER = 'https://kubernetes.default.svc';
/** The in-cluster CA bundle of the pod's ServiceAccount. */
export const IN_CLUSTER_CA_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';
/** The pod's (projected, rotated) ServiceAccount token. */
export const IN_CLUSTER_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';
