// Compiles the AssemblyScript templates in examples/templates (and the test-only hostile ones) to
// WebAssembly with the project's own AssemblyScript compiler: no binary is downloaded.
// `node scripts/build-templates.mjs [outDir]` (default: templates/, beside dist/ so that tsup's
// clean never removes them while a node or a test reads them). Files are written to a temporary
// name and renamed, so a reader never sees half a module.
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import asc from 'assemblyscript/asc'

const here = dirname(fileURLToPath(import.meta.url))
const packageDir = resolve(here, '..')
const templatesDir = resolve(packageDir, '../../examples/templates')

/** Template sources: every `.ts` in examples/templates (and examples/templates/hostile if asked), minus the shared modules. */
export async function templateSources(hostile = false) {
  const sources = []
  for (const dir of hostile ? [templatesDir, join(templatesDir, 'hostile')] : [templatesDir]) {
    for (const name of (await readdir(dir)).sort()) {
      if (name.endsWith('.ts') && name !== 'abort.ts' && name !== 'json-out.ts') sources.push(join(dir, name))
    }
  }
  return sources
}

/**
 * Compiles each template that is missing or older than its sources into `outDir`, writing its
 * manifest beside it; returns the files. The test-only hostile modules are built only if asked
 * (the tests build everything into test/.templates; the package ships the examples only).
 */
export async function buildTemplates(outDir = join(packageDir, 'templates'), { hostile = false } = {}) {
  await mkdir(outDir, { recursive: true })
  const shared = Math.max((await stat(join(templatesDir, 'abort.ts'))).mtimeMs, (await stat(join(templatesDir, 'json-out.ts'))).mtimeMs, (await stat(fileURLToPath(import.meta.url))).mtimeMs)
  const built = []
  for (const source of await templateSources(hostile)) {
    const name = basename(source, '.ts')
    const out = join(outDir, `${name}.wasm`)
    built.push(out)
    const fresh = await stat(out).then((s) => s.mtimeMs > Math.max(shared, 0) && s.mtimeMs > 0, () => false)
    if (!(fresh && (await stat(out)).mtimeMs > (await stat(source)).mtimeMs)) await compile(name, source, out)
    await writeManifest(name, out)
  }
  return built
}

// CIDv1, raw codec (0x55), sha2-256 (0x12, 32 bytes), base32 lower: the same CID as templateCid().
function cidOf(bytes) {
  const digest = createHash('sha256').update(bytes).digest()
  const cid = Buffer.concat([Buffer.from([0x01, 0x55, 0x12, 0x20]), digest])
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  let bits = 0
  let value = 0
  let out = 'b'
  for (const byte of cid) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31]
  return out
}

// Writes <name>.manifest.json beside the module: examples/templates/templates.json plus the module's CID.
async function writeManifest(name, wasmPath) {
  const all = JSON.parse(await readFile(join(templatesDir, 'templates.json'), 'utf8'))
  const entry = all[name]
  if (entry === undefined) throw new Error(`examples/templates/templates.json has no entry for ${name}`)
  const manifest = { module: cidOf(await readFile(wasmPath)), ...entry }
  const path = wasmPath.replace(/\.wasm$/, '.manifest.json')
  const text = `${JSON.stringify(manifest, null, 2)}\n`
  if ((await readFile(path, 'utf8').catch(() => '')) === text) return
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)
  await writeFile(temp, text)
  await rename(temp, path)
}

async function compile(name, source, out) {
  {
    const args = [
      relative(process.cwd(), source),
      '--outFile', join(dirname(out), `.${basename(out)}.${process.pid}.tmp`),
      '--optimizeLevel', '3',
      '--shrinkLevel', '0',
      '--runtime', 'incremental',
      '--disable', 'simd',
      '--use', `abort=${relative(process.cwd(), join(templatesDir, 'abort')).split('\\').join('/')}/templateAbort`,
      '--path', join(packageDir, 'node_modules')
    ]
    const errors = []
    const { error } = await asc.main(args, { stderr: { write: (s) => errors.push(String(s)) }, stdout: { write: () => {} } })
    if (error) throw new Error(`asc ${name}: ${error.message}\n${errors.join('')}`)
    await rename(join(dirname(out), `.${basename(out)}.${process.pid}.tmp`), out)
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const files = await buildTemplates(process.argv[2] === undefined ? undefined : resolve(process.argv[2]))
  console.log(`templates: ${files.length} modules in ${relative(process.cwd(), dirname(files[0] ?? '.'))}`)
}
