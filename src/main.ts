// Entry point of the `relay365` command (bin/relay365.js runs the compiled copy): src/cli/main.ts
// parses the arguments and runs the command; the exit code is set here.
import { hideBin } from 'yargs/helpers'
import { main } from './cli/main.js'

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`relay365: ${String(err)}\n`)
    process.exitCode = 1
  },
)
