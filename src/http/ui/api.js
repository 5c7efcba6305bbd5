// The API client: JSON over fetch with the bearer token (kept in sessionStorage, asked for on a
// 401), so the same page works on a loopback relay (no token) and behind one.
const TOKEN_KEY = 'relay365.token'

export class Unauthorized extends Error {}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? ''
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value)
  else sessionStorage.removeItem(TOKEN_KEY)
}

export function authHeaders() {
  const t = token()
  return t ? { authorization: `Bearer ${t}` } : {}
}

export async function api(path, options = {}) {
  // POST, DELETE, ...: always JSON, with or without a body — without a token the relay refuses
  // state-changing requests of any other type (a cross-site form cannot send this one)
  const method = (options.method ?? 'GET').toUpperCase()
  const json = options.body !== undefined || !['GET', 'HEAD'].includes(method)
  const headers = { ...authHeaders(), ...(json ? { 'content-type': 'application/json' } : {}) }
  const res = await fetch(path, { ...options, headers, body: options.body ? JSON.stringify(options.body) : undefined })
  if (res.status === 401) throw new Unauthorized('the API needs a bearer token')
  const type = res.headers.get('content-type') ?? ''
  const body = type.includes('json') ? await res.json() : await res.text()
  if (!res.ok) {
    const err = new Error(`${options.method ?? 'GET'} ${path}: ${res.status} ${body?.error ?? body?.message ?? ''}`)
    // the release form shows the server's own words (error, and the SMTP reply when there was one)
    err.status = res.status
    err.body = body
    throw err
  }
  return body
}

/** A file from the API saved under `name`: fetched with the token (a plain link could not send it). */
export async function download(path, name) {
  const res = await fetch(path, { headers: authHeaders() })
  if (res.status === 401) throw new Unauthorized('the API needs a bearer token')
  if (!res.ok) throw new Error(`GET ${path}: ${res.status}`)
  const url = URL.createObjectURL(await res.blob())
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

/** Query string of the non-empty entries. */
export function query(params) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}
