import { FlowVersionError } from './errors.js'

/** Which part of a semantic version to bump. */
export type VersionBump = 'major' | 'minor' | 'patch'

/** A parsed semantic version. */
export interface SemVer {
  /** Major. */
  major: number
  /** Minor. */
  minor: number
  /** Patch. */
  patch: number
  /** Pre-release identifiers (`1.0.0-beta.2` → `['beta', '2']`). */
  prerelease: string[]
  /** Build metadata (ignored in comparisons). */
  build: string[]
}

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/

/**
 * Parses a semantic version (semver.org 2.0.0).
 *
 * @throws {@link FlowVersionError} (`invalid-version`) when it is not one.
 */
export function parseVersion(version: string): SemVer {
  const m = typeof version === 'string' ? SEMVER.exec(version) : null
  if (m === null) throw new FlowVersionError('invalid-version', `"${String(version)}" is not a semantic version`)
  const parts = [m[1], m[2], m[3]].map(Number) as [number, number, number]
  if (!parts.every(Number.isSafeInteger)) throw new FlowVersionError('invalid-version', `"${version}" has a number too large`)
  return {
    major: parts[0],
    minor: parts[1],
    patch: parts[2],
    prerelease: m[4] === undefined ? [] : m[4].split('.'),
    build: m[5] === undefined ? [] : m[5].split('.')
  }
}

function compareIdentifiers(a: string, b: string): number {
  const an = /^\d+$/.test(a)
  const bn = /^\d+$/.test(b)
  if (an && bn) return Math.sign(Number(a) - Number(b))
  if (an) return -1
  if (bn) return 1
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Compares two semantic versions by precedence (build metadata ignored): negative when `a` comes
 * first, 0 when equal, positive when `a` comes later.
 *
 * @throws {@link FlowVersionError} when either is not a semantic version.
 */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a)
  const y = parseVersion(b)
  for (const k of ['major', 'minor', 'patch'] as const) {
    if (x[k] !== y[k]) return Math.sign(x[k] - y[k])
  }
  if (x.prerelease.length === 0 || y.prerelease.length === 0) {
    return y.prerelease.length - x.prerelease.length === 0 ? 0 : x.prerelease.length === 0 ? 1 : -1
  }
  const n = Math.max(x.prerelease.length, y.prerelease.length)
  for (let i = 0; i < n; i++) {
    const p = x.prerelease[i]
    const q = y.prerelease[i]
    if (p === undefined) return -1
    if (q === undefined) return 1
    const c = compareIdentifiers(p, q)
    if (c !== 0) return c
  }
  return 0
}

/**
 * The next version: `major` → (M+1).0.0, `minor` → M.(m+1).0, `patch` → M.m.(p+1); a pre-release
 * is released by a patch bump (`1.2.0-rc.1` → `1.2.0`) as semver tools do. Build metadata is dropped.
 *
 * @throws {@link FlowVersionError} when `version` is not a semantic version.
 */
export function bumpVersion(version: string, bump: VersionBump = 'patch'): string {
  const v = parseVersion(version)
  const pre = v.prerelease.length > 0
  switch (bump) {
    case 'major':
      return pre && v.minor === 0 && v.patch === 0 ? `${v.major}.0.0` : `${v.major + 1}.0.0`
    case 'minor':
      return pre && v.patch === 0 ? `${v.major}.${v.minor}.0` : `${v.major}.${v.minor + 1}.0`
    case 'patch':
      return pre ? `${v.major}.${v.minor}.${v.patch}` : `${v.major}.${v.minor}.${v.patch + 1}`
  }
}
