// The relay clock in the top bar, ticking locally between fetches at the relay's speed; with a
// simulated clock (speed != 1) the advance control posts to /api/v1/clock/advance.
import { api } from './api.js'
import { fmtTime } from './dom.js'

export class ClockView {
  constructor(onAdvanced) {
    this.onAdvanced = onAdvanced
    this.base = undefined
    this.nowEl = document.getElementById('clock-now')
    this.speedEl = document.getElementById('clock-speed')
    this.form = document.getElementById('clock-advance')
    this.form.addEventListener('click', (e) => {
      const s = e.target?.dataset?.seconds
      if (s) this.advance(Number(s))
    })
    this.form.addEventListener('submit', (e) => {
      e.preventDefault()
      const s = Number(document.getElementById('advance-seconds').value)
      if (s > 0) this.advance(s)
    })
    setInterval(() => this.tick(), 1000)
  }

  set(clock) {
    this.base = { epochMs: clock.epochMs, speed: clock.speed, at: Date.now() }
    const simulated = clock.speed !== 1
    this.speedEl.hidden = !simulated
    this.speedEl.textContent = `×${clock.speed}`
    this.speedEl.title = `simulated time runs ${clock.speed} times faster than real time (clock.speed)`
    this.form.hidden = !simulated
    this.tick()
  }

  /** The relay's time now, extrapolated from the last fetch. */
  now() {
    if (!this.base) return Date.now()
    return this.base.epochMs + (Date.now() - this.base.at) * this.base.speed
  }

  tick() {
    if (this.base) this.nowEl.textContent = `${fmtTime(this.now())} UTC`
  }

  async advance(seconds) {
    this.set(await api('/api/v1/clock/advance', { method: 'POST', body: { seconds } }))
    this.onAdvanced()
  }
}
