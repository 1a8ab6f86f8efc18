/**
 * sQuid identities for Qflow: ed25519 key pairs named by their `did:key`, kept in
 * passphrase-encrypted keystores, delegating capabilities to sub-identities, and proving
 * themselves with short-lived single-use tokens (compact JWS, EdDSA). {@link squidVerifier}
 * implements `@qflow/pipeline`'s `IdentityVerifier` for the Qlock stage.
 *
 * @example
 * ```ts
 * import { createIdentity, createSubIdentity, issueToken, squidVerifier } from '@qflow/adapters-squid'
 *
 * const alice = createIdentity()
 * const { identity: bot, delegation } = await createSubIdentity(alice, { capabilities: ['flow:read'] })
 * const token = await issueToken(bot, { audience: 'qflow:node:1', delegation: [delegation] })
 * const facts = await squidVerifier({ audience: 'qflow:node:1' })().verifyToken(token)
 * console.log(facts.subject === bot.did, facts.root === alice.did, facts.capabilities) // true true [ 'flow:read' ]
 * ```
 *
 * @packageDocumentation
 */
export {
  DEFAULT_CLOCK_SKEW_MS,
  DEFAULT_DELEGATION_TTL_MS,
  DEFAULT_MAX_CHAIN_LENGTH,
  DEFAULT_MAX_TOKEN_LENGTH,
  DEFAULT_MAX_TOKEN_LIFETIME_MS,
  DEFAULT_REPLAY_CACHE_SIZE,
  DEFAULT_VERIFIED_TOKEN_CACHE_SIZE,
  DEFAULT_SCRYPT,
  DEFAULT_TOKEN_TTL_MS
} from './constants.js'
export {
  type ChainVerifierInit,
  createSubIdentity,
  type DelegateInit,
  type Delegation,
  delegate,
  delegationId,
  delegationSigningBytes,
  parseDelegation,
  type RevocationCheck,
  type SquidVerifiedDelegation,
  type SubIdentity
} from './delegation.js'
export { didFromPublicKey, isDidKey, isLegacyId, publicKeyFromDid, x25519PublicKeyFromDid } from './did.js'
export {
  type DelegationChainFault,
  DelegationChainError,
  DelegationExpiredError,
  DelegationMalformedError,
  DelegationNotYetValidError,
  DelegationRevokedError,
  InvalidDelegationIdError,
  InvalidDidError,
  InvalidKeyError,
  InvalidSignatureError,
  InvalidTokenRevocationError,
  KeystoreCorruptError,
  KeystorePassphraseError,
  KeystoreVersionError,
  ReplayCacheFullError,
  RevocationListError,
  RevocationStoreCorruptError,
  SquidError,
  TokenAudienceError,
  TokenExpiredError,
  TokenLifetimeError,
  TokenMalformedError,
  TokenNotYetValidError,
  TokenReplayedError,
  TokenRevocationLimitError,
  TokenRevokedError,
  TokenSignatureError,
  TokenSubjectError,
  UnknownIdentityError
} from './errors.js'
export { createIdentity, type Identity, type IdentityExport, importIdentity } from './identity.js'
export {
  inThreadSignatureCheck,
  type KeyDirectory,
  type KeyDirectoryInit,
  type KeyResolver,
  keyDirectory,
  type SignatureCheck,
  type VerifyingKey
} from './keys.js'
export { type OffThreadSigner, type OffThreadSignerInit, offThreadSigner, SignerClosedError } from './off-thread-signer.js'
export {
  type OffThreadSignatureCheck,
  type OffThreadSignatureCheckInit,
  offThreadSignatureCheck,
  SignatureCheckClosedError
} from './off-thread-verifier.js'
export {
  createKeystore,
  type Keystore,
  type KeystoreAddOptions,
  type KeystoreEntry,
  type KeystoreSealInit,
  loadKeystore,
  openKeystore,
  saveKeystore,
  type ScryptParams,
  sealKeystore
} from './keystore.js'
export { type ReplayCache, type ReplayCacheInit, replayCache } from './replay-cache.js'
export {
  createRevocationRegistry,
  type ImportRevocationListOptions,
  isDelegationId,
  type RevocationEntry,
  type RevocationListener,
  type RevocationRegistry,
  type RevocationRegistryInit,
  type SignedRevocationList,
  verifyRevocationList
} from './revocation.js'
export { signPayload, verifyPayload } from './signature.js'
export {
  createTokenRevocationRegistry,
  type RevokedIdentity,
  type RevokedToken,
  type TokenFacts,
  type TokenRevocation,
  type TokenRevocationCheck,
  type TokenRevocationListener,
  type TokenRevocationOptions,
  type TokenRevocationRegistry,
  type TokenRevocationRegistryInit
} from './token-revocation.js'
export { type DecodedToken, decodeToken, type IssueTokenInit, issueToken, type TokenClaims } from './token.js'
export {
  type SquidVerifiedToken,
  type SquidVerifier,
  type SquidVerifierComponents,
  type SquidVerifierInit,
  squidVerifier
} from './verifier.js'
