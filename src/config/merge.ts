// Deep merge of config documents before validation: `over` wins, mappings merge, lists replace.
// Used to lay a scenario's relay settings (and tests' settings) over a base config.

export type ConfigDoc = Record<string, unknown>

function isMapping(v: unknown): v is ConfigDoc {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function mergeConfig(base: ConfigDoc, over: ConfigDoc): ConfigDoc {
  const out: ConfigDoc = { ...base }
  for (const [k, v] of Object.entries(over)) out[k] = isMapping(v) && isMapping(base[k]) ? mergeConfig(base[k], v) : v
  return out
}
