#!/usr/bin/env -S node --max-semi-space-size=2
// Entry point for `npx relay365`: runs the compiled CLI (built by `npm ci` through `prepare`).
// The small young generation (--max-semi-space-size=2, MB) keeps memory flat while large messages
// stream through; the figures are in BENCHMARKS.md.
import '../dist/main.js'
