/**
 * The signature sizes each algorithm can produce, in bytes: exact for ECDSA (r || s) and EdDSA,
 * a range for RSA (jose refuses moduli under 2048 bits; 16384 bits is a generous ceiling).
 */
const LENGTHS: Readonly<Record<string, readonly [number, number]>> = {
  ES256: [64, 64],
  ES384: [96, 96],
  ES512: [132, 132],
  EdDSA: [64, 64],
  RS256: [256, 2048],
  RS384: [256, 2048],
  RS512: [256, 2048],
  PS256: [256, 2048],
  PS384: [256, 2048],
  PS512: [256, 2048],
};

/** True when `bytes` is a signature length `alg` can produce (unknown algorithms: false). */
export function isPlausibleSignatureLength(alg: string, bytes: number): boolean {
  const range = LENGTHS[alg];
  return range !== undefined && bytes >= range[0] && bytes <= range[1];
}
