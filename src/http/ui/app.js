// The dashboard's entry point: loads clock, outcomes, limits and messages, then follows the live
// event stream; a message opens at #/messages/<id>. Counters and gauges refresh shortly after
// each live record and every 10 s (their windows slide with the relay clock).
import { api, query, setToken, Unauthorized } from './api.js'
import { renderChart, renderTotals } from './chart.js'
import { ClockView } from './clock.js'
import { renderDetail } from './detail.js'
import { h } from './dom.js'
import { FaultsPanel } from './faults.js'
import { renderGauges } from './gauges.js'
import { MessageList, matches } from './list.js'
import { follow } from './live.js'
import { renderRules } from './rules.js'

const PAGE = 100
const $ = (id) => document.getElementById(id)

const state = { window: 'all', filters: {}, stopLive: undefined, started: false }
const clock = new ClockView(() => refreshSoon(0))
const list = new MessageList((id) => (location.hash = `#/messages/${id}`))
const closeDetail = () => (location.hash = '')
const faults = new FaultsPanel((err) => showError(err))

function showError(err) {
  if (err instanceof Unauthorized) {
    $('token-form').hidden = false
    $('token-input').focus()
    return
  }
  $('error').textContent = String(err.message ?? err)
  $('error').hidden = false
}

function clearError() {
  $('error').hidden = true
}

let listSeq = 0
async function loadMessages(offset = 0) {
  // typing a search sends a request per pause: only the newest answer may fill the list
  const seq = ++listSeq
  const page = await api(`/api/v1/messages${query({ ...state.filters, limit: PAGE, offset })}`)
  if (seq !== listSeq) return
  if (offset === 0) list.set(page, Object.keys(state.filters).length > 0)
  else list.append(page)
}

async function loadStats() {
  const since = state.window === 'all' ? undefined : new Date(clock.now() - Number(state.window)).toISOString()
  const stats = await api(`/api/v1/stats${query({ since, buckets: 60 })}`)
  renderTotals($('totals'), stats.totals)
  renderChart($('chart'), stats)
  renderRules(document.querySelector('#rules tbody'), stats.rules, (rule) => setFilter('rule', rule))
  const select = document.querySelector('#filters select[name=rule]')
  const current = select.value
  select.replaceChildren(h('option', { value: '' }, 'any rule'), ...stats.rules.map((r) => h('option', { value: r.rule }, r.rule)))
  select.value = current
}

async function loadLimits() {
  const limits = await api('/api/v1/limits')
  renderGauges($('gauges'), limits.limits)
}

async function loadClock() {
  clock.set(await api('/api/v1/clock'))
}

async function refresh() {
  try {
    await loadClock()
    await Promise.all([loadStats(), loadLimits(), faults.load()])
    clearError()
  } catch (err) {
    showError(err)
  }
}

let reloadTimer
function reloadSoon() {
  clearTimeout(reloadTimer)
  reloadTimer = setTimeout(() => loadMessages().catch(showError), 300)
}

let timer
function refreshSoon(ms = 500) {
  clearTimeout(timer)
  timer = setTimeout(refresh, ms)
}

function setFilter(name, value) {
  const input = document.querySelector(`#filters [name=${name}]`)
  input.value = value
  readFilters()
}

function readFilters() {
  clearTimeout(state.filterTimer)
  const form = $('filters')
  state.filters = Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v).trim()]).filter(([, v]) => v !== ''))
  $('search-clear').hidden = !form.elements.q.value
  loadMessages().catch(showError)
}

async function openFromHash() {
  const m = /^#\/messages\/([A-Za-z0-9-]+)$/.exec(location.hash)
  const panel = $('detail')
  if (!m) {
    panel.hidden = true
    list.select(undefined)
    return
  }
  list.select(m[1])
  panel.hidden = false
  try {
    await renderDetail($('detail-body'), m[1], {
      onClose: closeDetail,
      onDeleted: (id) => {
        list.remove(id)
        closeDetail()
        refreshSoon(0)
      },
    })
  } catch (err) {
    $('detail-body').replaceChildren(h('p', { class: 'error' }, String(err.message ?? err)))
  }
}

function onLive(event, data) {
  if (event === 'message') {
    // a search matches message text the list does not hold: ask the server again
    if (state.filters.q) reloadSoon()
    else if (matches(data, state.filters)) list.upsert(data)
    else list.remove(data.id)
    if (location.hash === `#/messages/${data.id}`) openFromHash()
    refreshSoon()
  } else if (event === 'removed' && data?.id) {
    list.remove(data.id)
    if (location.hash === `#/messages/${data.id}`) location.hash = ''
    refreshSoon()
  } else if (event === 'cleared') {
    loadMessages().catch(showError)
    refreshSoon(0)
  }
}

async function start() {
  try {
    await loadClock()
    await Promise.all([loadMessages(), loadStats(), loadLimits(), faults.load()])
    clearError()
  } catch (err) {
    showError(err)
    return
  }
  $('token-form').hidden = true
  state.stopLive?.()
  let first = true
  state.stopLive = follow({
    onEvent: onLive,
    // after a reconnect, reload what the stream may have missed
    onOpen: () => {
      if (!first) Promise.all([loadMessages(), refresh()]).catch(showError)
      first = false
    },
    onState: (s) => {
      $('live').dataset.state = s
      $('live-text').textContent = s === 'live' ? 'live' : s === 'unauthorized' ? 'needs token' : 'reconnecting…'
    },
  })
  if (!state.started) setInterval(refresh, 10_000)
  state.started = true
  openFromHash()
}

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault()
  setToken($('token-input').value.trim())
  start()
})
function filtersChanged() {
  $('search-clear').hidden = !$('filters').elements.q.value
  clearTimeout(state.filterTimer)
  state.filterTimer = setTimeout(readFilters, 250)
}
$('filters').addEventListener('input', filtersChanged)
// the search box belongs to the form (form=) but sits outside it: its events do not bubble there
$('filters').elements.q.addEventListener('input', filtersChanged)
// Enter searches now rather than after the pause
$('filters').addEventListener('submit', (e) => {
  e.preventDefault()
  readFilters()
})
$('filters').elements.q.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape' || !e.target.value) return
  e.stopPropagation()
  clearSearch()
})
$('search-clear').addEventListener('click', clearSearch)
function clearSearch() {
  $('filters').elements.q.value = ''
  readFilters()
  $('filters').elements.q.focus()
}
$('more').addEventListener('click', () => loadMessages(list.messages.length).catch(showError))
$('window').addEventListener('click', (e) => {
  const w = e.target?.dataset?.window
  if (!w) return
  state.window = w
  for (const b of $('window').querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.window === w))
  loadStats().catch(showError)
})
$('clear-trace').addEventListener('click', async () => {
  if (!confirm('Delete every trace record and captured message?')) return
  await api('/api/v1/messages', { method: 'DELETE' }).catch(showError)
})
$('limits-reset').addEventListener('click', async () => {
  if (!confirm('Reset every limit counter?')) return
  await api('/api/v1/limits/reset', { method: 'POST' }).catch(showError)
  refreshSoon(0)
})
window.addEventListener('hashchange', openFromHash)
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !$('detail').hidden) location.hash = ''
})

start()
