import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CONFIG_KEYS, formatDuration, formatSize, parseDuration, parseSize, redactedConfig, resolveDaemonConfig } from '../../src/daemon/config.js'
import { DEFAULT_ADMIN_TOKEN_TTL_MS, DEFAULT_PORT, DEFAULT_SHUTDOWN_TIMEOUT_MS, REDACTED } from '../../src/daemon/constants.js'
import { useTempDir, writeFiles } from '../fixtures/cli.js'

describe('resolveDaemonConfig', () => {
  const tmp = useTempDir()

  it('uses the defaults when no layer sets anything', async () => {
    const { config, sources, file } = await resolveDaemonConfig({ flags: {}, env: {}, cwd: tmp() })
    expect(file).toBeUndefined()
    expect(config).toEqual({
      dataDir: join(tmp(), '.qflow'),
      host: '127.0.0.1',
      port: DEFAULT_PORT,
      logLevel: 'info',
      shutdownTimeout: DEFAULT_SHUTDOWN_TIMEOUT_MS,
      durability: 'fsync',
      allowPrivateNetworks: [],
      adminTokenTtl: DEFAULT_ADMIN_TOKEN_TTL_MS,
      subnet: 'default',
      bodyLimit: 1024 * 1024,
      requestTimeout: 60_000,
      handlerTimeout: 30_000,
      webhookBodyLimit: 256 * 1024,
      webhookTolerance: 300_000,
      webhookSourceRate: 50,
      webhookSourceBurst: 100,
      webhookTenantRate: 500,
      webhookTenantBurst: 1000,
      webhookRefusalRate: 2,
      webhookRefusalBurst: 20,
      webhookWaitTimeout: 25_000,
      executionMaxAge: 14 * 24 * 60 * 60_000,
      executionMaxCount: 100_000,
      pruneInterval: 5 * 60_000
    })
    for (const spec of CONFIG_KEYS) expect(sources[spec.key]).toEqual({ source: 'default', origin: 'default' })
  })

  it('takes flags over the environment over the file over the defaults, key by key', async () => {
    await writeFiles(tmp(), { 'node.yaml': 'port: 1111\nhost: 0.0.0.0\nlogLevel: warn\nsubnet: from-file\n' })
    const { config, sources, file } = await resolveDaemonConfig({
      flags: { config: 'node.yaml', port: '3333' },
      env: { QFLOW_PORT: '2222', QFLOW_LOG_LEVEL: 'debug' },
      cwd: tmp()
    })
    expect(file).toBe(join(tmp(), 'node.yaml'))
    expect(config.port).toBe(3333)
    expect(sources.port).toEqual({ source: 'flag', origin: '--port' })
    expect(config.logLevel).toBe('debug')
    expect(sources.logLevel).toEqual({ source: 'env', origin: 'QFLOW_LOG_LEVEL' })
    expect(config.host).toBe('0.0.0.0')
    expect(sources.host).toEqual({ source: 'file', origin: `${join(tmp(), 'node.yaml')}:2` })
    expect(config.subnet).toBe('from-file')
    expect(config.durability).toBe('fsync')
    expect(sources.durability.source).toBe('default')
  })

  it('reads <dataDir>/config.yaml when no file is named, and QFLOW_CONFIG when set', async () => {
    await writeFiles(tmp(), { 'data/config.yaml': 'port: 4444\n', 'other.yaml': 'port: 5555\n' })
    const inDataDir = await resolveDaemonConfig({ flags: { dataDir: 'data' }, env: {}, cwd: tmp() })
    expect(inDataDir.file).toBe(join(tmp(), 'data/config.yaml'))
    expect(inDataDir.config.port).toBe(4444)
    const fromEnv = await resolveDaemonConfig({ flags: {}, env: { QFLOW_DATA_DIR: 'data', QFLOW_CONFIG: 'other.yaml' }, cwd: tmp() })
    expect(fromEnv.file).toBe(join(tmp(), 'other.yaml'))
    expect(fromEnv.config.port).toBe(5555)
    expect(fromEnv.config.dataDir).toBe(join(tmp(), 'data'))
  })

  it('resolves a relative dataDir in a file against the file, and on the command line against the working directory', async () => {
    await writeFiles(tmp(), { 'etc/qflow.yaml': 'dataDir: ../var/node\n' })
    const fromFile = await resolveDaemonConfig({ flags: { config: 'etc/qflow.yaml' }, env: {}, cwd: tmp() })
    expect(fromFile.config.dataDir).toBe(join(tmp(), 'var/node'))
    const fromFlag = await resolveDaemonConfig({ flags: { config: 'etc/qflow.yaml', dataDir: 'here' }, env: {}, cwd: tmp() })
    expect(fromFlag.config.dataDir).toBe(join(tmp(), 'here'))
  })

  it('parses durations, lists and levels in every layer', async () => {
    await writeFiles(tmp(), { 'c.yaml': 'shutdownTimeout: 1500\nadminTokenTtl: 30d\nallowPrivateNetworks: [127.0.0.0/8, "::1"]\n' })
    const { config } = await resolveDaemonConfig({
      flags: { config: 'c.yaml', defaultStepTimeout: '2m' },
      env: { QFLOW_LOG_LEVEL: 'TRACE', QFLOW_DURABILITY: 'batched' },
      cwd: tmp()
    })
    expect(config.shutdownTimeout).toBe(1500)
    expect(config.adminTokenTtl).toBe(30 * 86_400_000)
    expect(config.allowPrivateNetworks).toEqual(['127.0.0.0/8', '::1'])
    expect(config.defaultStepTimeout).toBe(120_000)
    expect(config.logLevel).toBe('trace')
    expect(config.durability).toBe('batched')
    const env = await resolveDaemonConfig({ flags: {}, env: { QFLOW_ALLOW_PRIVATE_NETWORKS: '10.0.0.0/8, 192.168.1.5' }, cwd: tmp() })
    expect(env.config.allowPrivateNetworks).toEqual(['10.0.0.0/8', '192.168.1.5'])
  })

  it('parses the server and webhook limits (sizes, durations, rates and bursts) in every layer', async () => {
    await writeFiles(tmp(), { 'c.yaml': 'bodyLimit: 2MiB\nwebhookBodyLimit: 65536\nwebhookSourceRate: 0.5\nwebhookTenantBurst: 20\nhandlerTimeout: 1m\n' })
    const { config, sources } = await resolveDaemonConfig({
      flags: { config: 'c.yaml', webhookTolerance: '90s', webhookSourceBurst: '3' },
      env: { QFLOW_REQUEST_TIMEOUT: '2m', QFLOW_WEBHOOK_TENANT_RATE: '12', QFLOW_WEBHOOK_WAIT_TIMEOUT: '45s', QFLOW_BODY_LIMIT: '512kb' },
      cwd: tmp()
    })
    expect(config).toMatchObject({
      bodyLimit: 512 * 1024,
      requestTimeout: 120_000,
      handlerTimeout: 60_000,
      webhookBodyLimit: 65_536,
      webhookTolerance: 90_000,
      webhookSourceRate: 0.5,
      webhookSourceBurst: 3,
      webhookTenantRate: 12,
      webhookTenantBurst: 20,
      webhookWaitTimeout: 45_000
    })
    expect(sources.bodyLimit).toEqual({ source: 'env', origin: 'QFLOW_BODY_LIMIT' })
    expect(sources.webhookSourceBurst).toEqual({ source: 'flag', origin: '--webhook-source-burst' })
    expect(sources.webhookSourceRate).toEqual({ source: 'file', origin: `${join(tmp(), 'c.yaml')}:3` })
  })

  it('parses the retention keys: an age of 0 or a count of 0 turns that limit off', async () => {
    await writeFiles(tmp(), { 'c.yaml': 'executionMaxAge: 30d\nexecutionMaxCount: 5000\n' })
    const { config, sources } = await resolveDaemonConfig({ flags: { config: 'c.yaml', pruneInterval: '90s' }, env: { QFLOW_EXECUTION_MAX_COUNT: '0' }, cwd: tmp() })
    expect(config).toMatchObject({ executionMaxAge: 30 * 24 * 60 * 60_000, executionMaxCount: 0, pruneInterval: 90_000 })
    expect(sources.executionMaxCount).toEqual({ source: 'env', origin: 'QFLOW_EXECUTION_MAX_COUNT' })
    const off = await resolveDaemonConfig({ flags: { executionMaxAge: '0' }, env: {}, cwd: tmp() })
    expect(off.config.executionMaxAge).toBe(0)
  })

  it.each([
    [{ flags: { webhookWaitTimeout: '30s' } }, 'webhookWaitTimeout', 'flag', '--webhook-wait-timeout'],
    [{ env: { QFLOW_HANDLER_TIMEOUT: '10s' } }, 'handlerTimeout', 'env', 'QFLOW_HANDLER_TIMEOUT'],
    [{ flags: { handlerTimeout: '20s' }, env: { QFLOW_WEBHOOK_WAIT_TIMEOUT: '20s' } }, 'webhookWaitTimeout', 'env', 'QFLOW_WEBHOOK_WAIT_TIMEOUT']
  ] as const)('refuses %j: an on-completion webhook must stop waiting before the handler timeout (naming %s)', async (layers, key, source, origin) => {
    const error = await resolveDaemonConfig({ flags: {}, env: {}, cwd: tmp(), ...layers }).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'DaemonConfigError', key, source, origin })
    expect((error as Error).message).toContain('handlerTimeout')
  })

  it('ignores empty environment variables', async () => {
    const { config, sources } = await resolveDaemonConfig({ flags: {}, env: { QFLOW_PORT: '', QFLOW_PASSPHRASE: '' }, cwd: tmp() })
    expect(config.port).toBe(DEFAULT_PORT)
    expect(sources.port.source).toBe('default')
    expect(config.passphrase).toBeUndefined()
  })

  it.each([
    [{ flags: { port: '70000' } }, 'port', 'flag', '--port'],
    [{ flags: { port: 'http' } }, 'port', 'flag', '--port'],
    [{ env: { QFLOW_PORT: '-1' } }, 'port', 'env', 'QFLOW_PORT'],
    [{ env: { QFLOW_LOG_LEVEL: 'loud' } }, 'logLevel', 'env', 'QFLOW_LOG_LEVEL'],
    [{ flags: { host: 'not a host' } }, 'host', 'flag', '--host'],
    [{ flags: { shutdownTimeout: '10 parsecs' } }, 'shutdownTimeout', 'flag', '--shutdown-timeout'],
    [{ flags: { shutdownTimeout: '2h' } }, 'shutdownTimeout', 'flag', '--shutdown-timeout'],
    [{ env: { QFLOW_ADMIN_TOKEN_TTL: '5s' } }, 'adminTokenTtl', 'env', 'QFLOW_ADMIN_TOKEN_TTL'],
    [{ env: { QFLOW_DURABILITY: 'memory' } }, 'durability', 'env', 'QFLOW_DURABILITY'],
    [{ env: { QFLOW_ALLOW_PRIVATE_NETWORKS: '10.0.0.0/33' } }, 'allowPrivateNetworks', 'env', 'QFLOW_ALLOW_PRIVATE_NETWORKS'],
    [{ flags: { subnet: 'a b' } }, 'subnet', 'flag', '--subnet'],
    [{ flags: { bodyLimit: 'huge' } }, 'bodyLimit', 'flag', '--body-limit'],
    [{ flags: { bodyLimit: '100' } }, 'bodyLimit', 'flag', '--body-limit'],
    [{ env: { QFLOW_BODY_LIMIT: '1GiB' } }, 'bodyLimit', 'env', 'QFLOW_BODY_LIMIT'],
    [{ env: { QFLOW_WEBHOOK_BODY_LIMIT: '-5' } }, 'webhookBodyLimit', 'env', 'QFLOW_WEBHOOK_BODY_LIMIT'],
    [{ flags: { requestTimeout: '10ms' } }, 'requestTimeout', 'flag', '--request-timeout'],
    [{ flags: { handlerTimeout: 'soon' } }, 'handlerTimeout', 'flag', '--handler-timeout'],
    [{ env: { QFLOW_WEBHOOK_TOLERANCE: '2d' } }, 'webhookTolerance', 'env', 'QFLOW_WEBHOOK_TOLERANCE'],
    [{ flags: { webhookSourceRate: '0' } }, 'webhookSourceRate', 'flag', '--webhook-source-rate'],
    [{ flags: { webhookSourceRate: 'fast' } }, 'webhookSourceRate', 'flag', '--webhook-source-rate'],
    [{ env: { QFLOW_WEBHOOK_SOURCE_BURST: '2.5' } }, 'webhookSourceBurst', 'env', 'QFLOW_WEBHOOK_SOURCE_BURST'],
    [{ env: { QFLOW_WEBHOOK_TENANT_RATE: '-1' } }, 'webhookTenantRate', 'env', 'QFLOW_WEBHOOK_TENANT_RATE'],
    [{ flags: { webhookTenantBurst: '0' } }, 'webhookTenantBurst', 'flag', '--webhook-tenant-burst'],
    [{ flags: { webhookWaitTimeout: 'forever' } }, 'webhookWaitTimeout', 'flag', '--webhook-wait-timeout'],
    [{ flags: { executionMaxAge: '30s' } }, 'executionMaxAge', 'flag', '--execution-max-age'],
    [{ env: { QFLOW_EXECUTION_MAX_AGE: '11y' } }, 'executionMaxAge', 'env', 'QFLOW_EXECUTION_MAX_AGE'],
    [{ flags: { executionMaxCount: '-1' } }, 'executionMaxCount', 'flag', '--execution-max-count'],
    [{ env: { QFLOW_EXECUTION_MAX_COUNT: '2.5' } }, 'executionMaxCount', 'env', 'QFLOW_EXECUTION_MAX_COUNT'],
    [{ flags: { pruneInterval: '500ms' } }, 'pruneInterval', 'flag', '--prune-interval'],
    [{ env: { QFLOW_PRUNE_INTERVAL: '2d' } }, 'pruneInterval', 'env', 'QFLOW_PRUNE_INTERVAL']
  ] as const)('refuses %j with a DaemonConfigError naming %s', async (layers, key, source, origin) => {
    const error = await resolveDaemonConfig({ flags: {}, env: {}, cwd: tmp(), ...layers }).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'DaemonConfigError', key, source, origin })
    expect((error as Error).message).toContain(key)
  })

  it('refuses a bad value in the file even when a stronger layer overrides it, naming the file and line', async () => {
    await writeFiles(tmp(), { 'c.yaml': 'host: 127.0.0.1\nport: seventy\n' })
    const error = await resolveDaemonConfig({ flags: { config: 'c.yaml', port: '80' }, env: {}, cwd: tmp() }).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'DaemonConfigError', key: 'port', source: 'file', origin: `${join(tmp(), 'c.yaml')}:2` })
  })

  it('refuses an unknown key in the file, naming it', async () => {
    await writeFiles(tmp(), { 'c.yaml': 'port: 80\nprot: 81\n' })
    const error = await resolveDaemonConfig({ flags: { config: 'c.yaml' }, env: {}, cwd: tmp() }).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'DaemonConfigError', key: 'prot', source: 'file', origin: `${join(tmp(), 'c.yaml')}:2` })
  })

  it('refuses a dataDir in the data directory’s own config.yaml', async () => {
    await writeFiles(tmp(), { '.qflow/config.yaml': 'dataDir: elsewhere\n' })
    const error = await resolveDaemonConfig({ flags: {}, env: {}, cwd: tmp() }).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'DaemonConfigError', key: 'dataDir', source: 'file' })
  })

  it.each([
    ['missing.yaml', undefined, 'no such file'],
    ['bad.yaml', 'port: [1, 2\n', 'line'],
    ['list.yaml', '- port\n- host\n', 'expected a mapping'],
    ['twice.yaml', 'port: 1\nport: 2\n', 'line 2']
  ])('refuses the file %s with a ConfigFileError', async (name, content, reason) => {
    if (content !== undefined) await writeFiles(tmp(), { [name]: content })
    const error = await resolveDaemonConfig({ flags: { config: name }, env: {}, cwd: tmp() }).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'ConfigFileError', path: join(tmp(), name) })
    expect((error as { reason: string }).reason).toContain(reason)
  })

  it('accepts an empty file', async () => {
    await writeFiles(tmp(), { 'empty.yaml': '# nothing set\n' })
    const { config, file } = await resolveDaemonConfig({ flags: { config: 'empty.yaml' }, env: {}, cwd: tmp() })
    expect(file).toBe(join(tmp(), 'empty.yaml'))
    expect(config.port).toBe(DEFAULT_PORT)
  })
})

describe('redactedConfig', () => {
  const tmp = useTempDir()

  it('replaces secrets and keeps everything else', async () => {
    await writeFiles(tmp(), { 'c.yaml': 'passphrase: correct horse battery staple\n' })
    const { config, sources } = await resolveDaemonConfig({ flags: { config: 'c.yaml' }, env: {}, cwd: tmp() })
    expect(config.passphrase).toBe('correct horse battery staple')
    expect(sources.passphrase).toEqual({ source: 'file', origin: `${join(tmp(), 'c.yaml')}:1` })
    const shown = redactedConfig(config)
    expect(shown.passphrase).toBe(REDACTED)
    expect(JSON.stringify(shown)).not.toContain('horse')
    expect(shown.port).toBe(DEFAULT_PORT)
    expect(shown.defaultStepTimeout).toBeNull()
  })

  it('shows an unset secret as null', async () => {
    const { config } = await resolveDaemonConfig({ flags: {}, env: {}, cwd: tmp() })
    expect(redactedConfig(config).passphrase).toBeNull()
  })
})

describe('sizes', () => {
  it.each([
    ['65536', 65_536],
    ['512kb', 524_288],
    ['256KiB', 262_144],
    ['1mb', 1_048_576],
    ['2 MiB', 2_097_152],
    ['64k', 65_536],
    [4096, 4096]
  ] as const)('parses %j', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes)
  })

  it.each([['1 gig'], ['-5'], [''], [true], [1.5], ['kb']])('refuses %j', (value) => {
    expect(() => parseSize(value)).toThrow(/size/)
  })

  it('formats with the largest whole unit', () => {
    expect([formatSize(1_048_576), formatSize(262_144), formatSize(1500)]).toEqual(['1MiB', '256KiB', '1500'])
  })
})

describe('durations', () => {
  it.each([
    ['250', 250],
    ['250ms', 250],
    ['1.5s', 1500],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['365d', 31_536_000_000],
    [42, 42]
  ] as const)('parses %j', (text, ms) => {
    expect(parseDuration(text)).toBe(ms)
  })

  it.each([['10 parsecs'], ['-5s'], [''], [true], [-1]])('refuses %j', (value) => {
    expect(() => parseDuration(value)).toThrow(/duration/)
  })

  it('formats with the largest whole unit', () => {
    expect([formatDuration(10_000), formatDuration(1500), formatDuration(31_536_000_000), formatDuration(0)]).toEqual(['10s', '1500ms', '365d', '0ms'])
  })
})
