/** Multicodec prefix of an ed25519 public key (`ed25519-pub`, 0xed as an unsigned varint). */
export const ED25519_PUB_MULTICODEC: Readonly<Uint8Array> = Uint8Array.of(0xed, 0x01)

/** The prefix every ed25519 `did:key` starts with. */
export const DID_KEY_PREFIX = 'did:key:'

/** Clock skew tolerated when judging `nbf`/`exp` of tokens and delegations, ms. Default 30 s. */
export const DEFAULT_CLOCK_SKEW_MS = 30_000

/** Longest lifetime (`exp` − `iat`) a token may claim, ms. Default 15 minutes. */
export const DEFAULT_MAX_TOKEN_LIFETIME_MS = 15 * 60_000

/** Lifetime of a token {@link issueToken} makes when none is given, ms. Default 5 minutes. */
export const DEFAULT_TOKEN_TTL_MS = 5 * 60_000

/** Longest token string accepted, characters. Default 16 KiB (room for a chain of delegations). */
export const DEFAULT_MAX_TOKEN_LENGTH = 16 * 1024

/** Token nonces remembered at once for replay detection. Default 100,000 (~15 MB). */
export const DEFAULT_REPLAY_CACHE_SIZE = 100_000

/** Reusable tokens remembered as signature-verified by a verifier without replay protection. Default 10,000. */
export const DEFAULT_VERIFIED_TOKEN_CACHE_SIZE = 10_000

/** Most delegations a chain may hold, root to leaf. Default 8. */
export const DEFAULT_MAX_CHAIN_LENGTH = 8

/** Lifetime of a delegation {@link delegate} makes when none is given, ms. Default 30 days. */
export const DEFAULT_DELEGATION_TTL_MS = 30 * 24 * 60 * 60_000

/** Parsed public keys kept per identifier. Default 10,000. */
export const DEFAULT_KEY_CACHE_SIZE = 10_000

/** Delegation signatures remembered as verified (signatures never change validity). Default 10,000. */
export const DEFAULT_DELEGATION_CACHE_SIZE = 10_000

/** Most capabilities one delegation or token may carry. */
export const MAX_CAPABILITIES = 256

/** Longest capability string, characters. */
export const MAX_CAPABILITY_LENGTH = 256

/** Longest nonce (`jti`, delegation nonce), characters. */
export const MAX_NONCE_LENGTH = 128

/** Longest legacy `squid:`/`did:squid:` identifier, characters. */
export const MAX_LEGACY_ID_LENGTH = 256

/**
 * scrypt cost of new keystores: N = 2^15, r = 8, p = 1 (32 MiB). Unlocking takes ~115 ms on the
 * reference machine (2^16 took ~205 ms, over the 200 ms budget).
 */
export const DEFAULT_SCRYPT = Object.freeze({ N: 2 ** 15, r: 8, p: 1 })

/** Lowest scrypt N a new keystore may be written with. */
export const MIN_SCRYPT_N = 2 ** 15

/** Bounds on scrypt parameters read from a file, so a hostile file cannot exhaust memory or time. */
export const SCRYPT_LIMITS = Object.freeze({ minN: 2 ** 10, maxN: 2 ** 20, maxR: 16, maxP: 4, maxMemory: 256 * 1024 * 1024 })

/** Largest keystore file read, bytes. */
export const MAX_KEYSTORE_BYTES = 16 * 1024 * 1024

/** The `format` tag of keystore files. */
export const KEYSTORE_FORMAT = 'qflow-squid-keystore'

/** The keystore format version this package writes and reads. */
export const KEYSTORE_VERSION = 1

/** The `format` tag of revocation registry files. */
export const REVOCATIONS_FORMAT = 'qflow-squid-revocations'

/** Domain tag prefixed to a delegation's canonical bytes before signing. */
export const DELEGATION_SIGNING_PREFIX = 'squid-delegation/v1\n'

/** Domain tag prefixed to a revocation list's canonical bytes before signing. */
export const REVOCATION_LIST_SIGNING_PREFIX = 'squid-revocations/v1\n'

/** The `format` tag of token revocation files. */
export const TOKEN_REVOCATIONS_FORMAT = 'qflow-squid-token-revocations'

/** Revoked tokens remembered at once (each until it expires). Default 100,000. */
export const DEFAULT_MAX_REVOKED_TOKENS = 100_000

/** Longest reason kept with a revocation, characters. */
export const MAX_REVOCATION_REASON_LENGTH = 512
