import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Benchmark, Measurement } from './harness.js'

const here = fileURLToPath(new URL('.', import.meta.url))
const filter = process.argv[2]

function fmt(n: number): string {
  if (!Number.isFinite(n)) return '-'
  if (n >= 100) return n.toFixed(0)
  if (n >= 1) return n.toFixed(2)
  return n.toFixed(3)
}

console.log(`node ${process.version} ${process.execArgv.join(' ')}`)
const files = (await readdir(here)).filter((f) => f.endsWith('.bench.ts')).sort()
const results: Record<string, Measurement[]> = {}
for (const file of files) {
  const topic = file.replace(/\.bench\.ts$/, '')
  if (filter !== undefined && !topic.includes(filter)) continue
  const mod = (await import(`./${file}`)) as { default: Benchmark }
  console.log(`\n## ${topic}`)
  const measurements = await mod.default()
  results[topic] = measurements
  for (const m of measurements) {
    const extra = m.extra === undefined ? '' : `  ${Object.entries(m.extra).map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v) : v}`).join(' ')}`
    console.log(`${m.name.padEnd(58)} median ${fmt(m.medianUs).padStart(9)} µs  p99 ${fmt(m.p99Us).padStart(9)} µs  ${fmt(m.opsPerSec).padStart(10)} ops/s${extra}`)
  }
}
await mkdir(`${here}../results`, { recursive: true })
await writeFile(`${here}../results/latest.json`, `${JSON.stringify({ node: process.version, execArgv: process.execArgv, at: new Date().toISOString(), results }, null, 2)}\n`)
