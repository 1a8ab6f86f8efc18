import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CONFIG_KEYS } from '../../src/daemon/config.js'
import { REPO_ROOT } from '../fixtures/cli.js'

describe('docs/operations.md', () => {
  it('documents every configuration key with its variable, flag and default, and no other', async () => {
    const doc = await readFile(join(REPO_ROOT, 'docs/operations.md'), 'utf8')
    const section = doc.slice(doc.indexOf('### Configuration'), doc.indexOf('### Logs'))
    const rows = [...section.matchAll(/^\| `([A-Za-z]+)` \| `(QFLOW_[A-Z_]+)` \| (`--[a-z-]+`|—) \| ([^|]+) \|/gm)].map((m) => ({
      key: m[1],
      env: m[2],
      flag: m[3] === '—' ? undefined : m[3]?.slice(1, -1),
      defaultText: m[4]?.trim()
    }))
    expect(rows.map((r) => r.key)).toEqual(CONFIG_KEYS.map((k) => k.key))
    for (const spec of CONFIG_KEYS) {
      const row = rows.find((r) => r.key === spec.key)
      expect(row?.env).toBe(spec.env)
      expect(row?.flag).toBe(spec.flag)
      if (!spec.secret && !spec.defaultText.includes(' ')) expect(row?.defaultText?.replaceAll('`', '')).toBe(spec.defaultText)
    }
  })
})
