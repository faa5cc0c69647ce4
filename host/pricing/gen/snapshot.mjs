// Writes the price snapshot sluice embeds (host/pricing/genai-prices.json) from the pinned
// @pydantic/genai-prices package: the providers sluice can route to, each model's match rule
// as the package states it, and its per-token prices (base and long-context tiers) with the
// dates they start. Run through `make prices`; the date and version go into the file.
import { findProvider } from '@pydantic/genai-prices'
import { readFileSync } from 'node:fs'

const providers = ['openai', 'azure', 'anthropic', 'google', 'aws', 'mistral', 'groq', 'x-ai',
  'deepseek', 'cohere', 'together', 'fireworks', 'cerebras', 'perplexity', 'moonshotai', 'voyageai']

// The per-token units sluice prices; the package's other units (audio, images, searches,
// pages) are not reported by the translators, so they are left out of the snapshot.
const units = { input_mtok: 'input', output_mtok: 'output', cache_read_mtok: 'cache_read',
  cache_write_mtok: 'cache_write', cache_write_1h_mtok: 'cache_write_1h' }

function rate(v) {
  if (typeof v === 'number') return v
  return { base: v.base, tiers: [...v.tiers].sort((a, b) => a.start - b.start).map(t => ({ start: t.start, price: t.price })) }
}

function priceSet(p) {
  const out = {}
  for (const [k, name] of Object.entries(units)) if (p[k] !== undefined) out[name] = rate(p[k])
  return out
}

// variants keeps the unconstrained price and those that start on a date; time-of-day
// discounts are left out (sluice bills the standard rate, never less).
function variants(m) {
  if (!Array.isArray(m.prices)) return [{ prices: priceSet(m.prices) }]
  const out = []
  for (const v of m.prices) {
    if (v.constraint === undefined) out.push({ prices: priceSet(v.prices) })
    else if (v.constraint.type === 'start_date') out.push({ start: v.constraint.start_date, prices: priceSet(v.prices) })
  }
  return out
}

const pkg = JSON.parse(readFileSync(new URL('./node_modules/@pydantic/genai-prices/package.json', import.meta.url)))
const snap = {
  source: '@pydantic/genai-prices',
  version: pkg.version,
  date: process.env.SNAPSHOT_DATE || new Date().toISOString().slice(0, 10),
  providers: [],
}
for (const id of providers) {
  const p = findProvider({ providerId: id })
  if (!p) throw new Error(`provider ${id} is not in @pydantic/genai-prices ${pkg.version}`)
  const entry = { id: p.id }
  if (p.model_match) entry.model_match = p.model_match
  if (p.fallback_model_providers) entry.fallback = p.fallback_model_providers.filter(f => providers.includes(f))
  entry.models = p.models.map(m => ({ id: m.id, match: m.match, prices: variants(m) }))
    .filter(m => m.prices.some(v => Object.keys(v.prices).length > 0))
  snap.providers.push(entry)
}
process.stdout.write(JSON.stringify(snap, null, 0).replaceAll('{"id":', '\n{"id":') + '\n')
