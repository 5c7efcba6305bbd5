#!/usr/bin/env -S node --max-semi-space-size=2
// Entry point for `npx relay365`: runs the compiled CLI, bundled (scripts/bundle.mjs; built by
// `npm ci` through `prepare`).
// The small young generation (--max-semi-space-size=2, MB) keeps memory flat while large messages
// stream through; the figures are in BENCHMARKS.md.
//
// `experiment` is the exception: it is short and CPU-bound, and with the small young generation
// it spent almost a fifth of its time collecting garbage (about a tenth with V8's default). V8
// takes the flag only at start, so the command runs in a child Node with the default; signals
// are passed on and its exit status is this process's. The child also holds an IPC channel to this
// process: when this one is gone, even by SIGKILL, the channel closes and the child ends with it.
import { spawn } from 'node:child_process'

const small = process.execArgv.includes('--max-semi-space-size=2')
if (process.argv[2] === 'experiment' && small) {
  const child = spawn(process.execPath, [...process.execArgv.filter((a) => a !== '--max-semi-space-size=2'), ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, RELAY365_PARENT_IPC: '1' },
  })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal))
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal)
      process.kill(process.pid, signal)
    } else process.exit(code ?? 1)
  })
} else {
  if (process.env.RELAY365_PARENT_IPC === '1') {
    // (not passed on to anything this process starts)
    delete process.env.RELAY365_PARENT_IPC
    // a parent gone before this process started leaves it no channel at all
    if (!process.connected) process.kill(process.pid, 'SIGTERM')
    // the channel only watches: it must not keep the command running
    process.channel?.unref()
    process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'))
  }
  await import('../dist/bin/main.js')
}
