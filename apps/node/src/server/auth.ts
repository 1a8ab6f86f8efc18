import type { ConsentDecision, ConsentRequest, TokenExpectations, VerifiedToken } from '@qflow/pipeline'
import type { FastifyRequest } from 'fastify'
import type { ApiAction, Caller } from './context.js'
import { ForbiddenError, UnauthenticatedError } from './errors.js'

/** What authentication needs: something that verifies sQuid tokens (the node's `verifier`). */
export interface TokenVerifier {
  verifyToken(token: string, expected?: TokenExpectations): Promise<VerifiedToken>
}

/** What authorization needs: something that answers consent checks (the node's Qonsent). */
export interface ConsentChecker {
  check(request: ConsentRequest): Promise<ConsentDecision>
}

const BEARER = /^Bearer[ \t]+([A-Za-z0-9._~+/=-]+)[ \t]*$/i

/** The bearer token of an `authorization` header, or `undefined` when it carries none. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  return BEARER.exec(header)?.[1]
}

/**
 * Authenticates a request by its `authorization: Bearer <sQuid token>` header: the token must
 * verify (signature, times, audience).
 *
 * @throws {@link UnauthenticatedError} when there is no token or it does not verify; `details.reason`
 * names the verifier's error (`TokenExpiredError`, `TokenSignatureError`, `TokenRevokedError` with
 * `details.revokedAt`, …).
 */
export function tokenAuthenticator(verifier: TokenVerifier, audience: string): (request: FastifyRequest) => Promise<Caller> {
  return async (request) => {
    const header = request.headers.authorization
    const token = bearerToken(header)
    if (token === undefined) {
      throw new UnauthenticatedError(header === undefined ? 'an authorization: Bearer <sQuid token> header is required' : 'the authorization header is not a bearer token')
    }
    let verified: VerifiedToken
    try {
      verified = await verifier.verifyToken(token, { audience })
    } catch (err) {
      const e = err as { name?: unknown; scope?: unknown; revokedAt?: unknown } | null
      if (e?.name === 'TokenRevokedError') {
        throw new UnauthenticatedError(e.scope === 'identity' ? 'the bearer token was revoked (with every earlier token of its identity)' : 'the bearer token was revoked', {
          reason: 'TokenRevokedError',
          revokedAt: e.revokedAt
        })
      }
      throw new UnauthenticatedError('the bearer token does not verify', { reason: typeof e?.name === 'string' ? e.name : 'Error' })
    }
    return { did: verified.subject, token }
  }
}

/**
 * Authorizes through Qonsent: the caller's grants must allow `action` on `resource`.
 *
 * @throws {@link ForbiddenError} when they do not (denied or expired).
 */
export function consentAuthorizer(consent: ConsentChecker): (caller: Caller, resource: string, action: ApiAction) => Promise<void> {
  return async (caller, resource, action) => {
    const decision = await consent.check({ subject: caller.did, resource, action })
    if (!decision.allowed) throw new ForbiddenError(resource, action, decision.reason)
  }
}
