/** Canonical base64url (RFC 4648 §5, no padding) decoding of one compact JWS segment. */

/** Decode `segment` only if it is canonical unpadded base64url; otherwise return null. */
export function decodeBase64urlStrict(segment: string): Buffer | null {
  if (segment.length % 4 === 1) return null;
  const bytes = Buffer.from(segment, 'base64url');
  // Buffer skips characters outside the alphabet and ignores non-zero trailing bits;
  // re-encoding and comparing refuses both, so one token has exactly one spelling.
  return bytes.toString('base64url') === segment ? bytes : null;
}
