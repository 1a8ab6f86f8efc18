import { describe, expect, it } from 'vitest'
import * as squid from '../src/index.js'

const RETRYABLE = new Set(['TokenNotYetValidError', 'DelegationNotYetValidError', 'ReplayCacheFullError', 'TokenRevocationLimitError'])

/** Constructor arguments for each error class. */
const ARGS: Record<string, unknown[]> = {
  InvalidDidError: ['did:x', 'bad'],
  InvalidKeyError: [],
  UnknownIdentityError: ['squid:x'],
  InvalidSignatureError: ['did:key:z6Mk', 'delegation', 0],
  DelegationMalformedError: ['bad', '/v', 0],
  DelegationExpiredError: ['sha256-x', 0, 0],
  DelegationNotYetValidError: ['sha256-x', 0, 0],
  DelegationRevokedError: ['sha256-x', 0],
  DelegationChainError: ['empty', 'empty chain'],
  TokenMalformedError: ['bad'],
  TokenSignatureError: ['did:key:z6Mk'],
  TokenExpiredError: [0],
  TokenNotYetValidError: [0],
  TokenAudienceError: ['a', ['b']],
  TokenSubjectError: ['a', 'b', 'c'],
  TokenLifetimeError: [2, 1],
  TokenReplayedError: ['n'],
  TokenRevokedError: ['token', 0, 'revoked'],
  InvalidTokenRevocationError: ['/nonce', 'bad'],
  TokenRevocationLimitError: [1],
  ReplayCacheFullError: [1],
  KeystorePassphraseError: [],
  KeystoreCorruptError: ['bad'],
  KeystoreVersionError: [2, 1],
  InvalidDelegationIdError: ['x'],
  RevocationListError: ['malformed', 'bad'],
  RevocationStoreCorruptError: ['/tmp/x', 'bad'],
  SignerClosedError: [],
  SignatureCheckClosedError: [],
  SquidError: []
}

describe('errors', () => {
  const classes = Object.entries(squid).filter(([name, value]) => typeof value === 'function' && name.endsWith('Error'))

  it('exports one class per condition, each named statically and on the instance, with retryable where waiting helps', () => {
    expect(classes.map(([name]) => name).sort()).toEqual(Object.keys(ARGS).sort())
    for (const [exported, ErrorClass] of classes) {
      expect((ErrorClass as { name: string }).name, exported).toBe(exported)
      const instance = new (ErrorClass as new (...args: unknown[]) => Error & { retryable: boolean })(...(ARGS[exported] ?? []))
      expect(instance.name, exported).toBe(exported)
      expect(instance).toBeInstanceOf(squid.SquidError)
      expect(instance).toBeInstanceOf(Error)
      expect(instance.retryable, exported).toBe(RETRYABLE.has(exported))
      if (exported !== 'SquidError') expect(instance.message.length, exported).toBeGreaterThan(0)
    }
  })
})
