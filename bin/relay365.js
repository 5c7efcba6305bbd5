#!/usr/bin/env node
// Entry point for `npx relay365`: runs the compiled CLI (built by `npm ci` through `prepare`).
import '../dist/main.js'
