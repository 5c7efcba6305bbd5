// The injected-faults panel (/api/v1/faults): what is armed, a remove button for each,
// and a form that arms a catalogue fault with an optional probability. Matches and windows are
// for the config file or the API; the panel covers the common "switch it on, watch, switch it
// off" while a sender is being tested.
import { api } from './api.js'
import { h } from './dom.js'

const $ = (id) => document.getElementById(id)

function scope(f) {
  const parts = Object.entries(f.match ?? {}).map(([k, v]) => `${k} ${v}`)
  if (f.probability < 1) parts.push(`p ${f.probability}`)
  if (f.from) parts.push(`from ${f.from.slice(0, 16).replace('T', ' ')}`)
  if (f.until) parts.push(`until ${f.until.slice(0, 16).replace('T', ' ')}`)
  return [`at ${f.stage}`, ...parts].join(' · ')
}

export class FaultsPanel {
  constructor(onError) {
    this.onError = onError
    this.catalogue = []
    this.form = $('fault-add')
    this.form.addEventListener('submit', (e) => {
      e.preventDefault()
      this.arm().catch(onError)
    })
  }

  async load() {
    const body = await api('/api/v1/faults')
    if (this.catalogue.length === 0) {
      this.catalogue = body.catalogue
      this.form.elements.id.replaceChildren(...body.catalogue.map((c) => h('option', { value: c.id, title: c.reply }, `${c.id} (${c.reply.slice(0, 3)}, ${c.stage})`)))
    }
    this.render(body.faults)
  }

  render(faults) {
    // {ip} is filled with the client's address when the reply is sent
    const reply = (f) => (f.reply ?? this.catalogue.find((c) => c.id === f.id)?.reply ?? '').replaceAll('{ip}', '<client ip>')
    $('faults').replaceChildren(
      ...faults.map((f) =>
        h(
          'li',
          { dataset: { fault: f.id } },
          h('span', { class: 'what' }, h('span', { class: 'id' }, f.id), ' ', h('span', { class: 'scope' }, scope(f)), h('span', { class: 'reply-line' }, reply(f))),
          h('button', { type: 'button', class: 'quiet danger', title: `DELETE /api/v1/faults/${f.id}`, onclick: () => this.remove(f.id).catch(this.onError) }, 'remove'),
        ),
      ),
    )
    $('faults-empty').hidden = faults.length > 0
    $('faults-count').textContent = faults.length ? String(faults.length) : ''
  }

  async arm() {
    const id = this.form.elements.id.value
    const p = this.form.elements.probability.value
    await api('/api/v1/faults', { method: 'POST', body: { id, ...(p !== '' ? { probability: Number(p) } : {}) } })
    this.form.elements.probability.value = ''
    await this.load()
  }

  async remove(id) {
    await api(`/api/v1/faults/${encodeURIComponent(id)}`, { method: 'DELETE' })
    await this.load()
  }
}
