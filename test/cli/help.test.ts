// Every command's --help ends with examples and the exit codes, within 100 columns.
import t from 'tap'
import { runCliHere } from '../helpers/cli.js'

const COMMANDS = [
  [],
  ['serve'],
  ['send'],
  ['load'],
  ['experiment'],
  ['trace'],
  ['doctor'],
  ['config'],
  ['config', 'check'],
]

for (const command of COMMANDS) {
  t.test(`relay365 ${[...command, '--help'].join(' ')}`, async (t) => {
    const help = await runCliHere([...command, '--help'])
    t.equal(help.code, 0, help.stderr)
    t.match(help.stdout, /\nExamples:\n {2}(relay365 |# )/)
    t.match(help.stdout, /Exit codes:\s+0\s[\s\S]*?,\s+1\s[\s\S]*?,\s+2\s+bad\s+usage\s+or\s+invalid\s+config/)
    const wide = help.stdout.split('\n').filter((line) => line.length > 100)
    t.strictSame(wide, [], 'no line over 100 columns')
    t.equal(help.stdout.match(/Examples:/g)?.length, 1, 'the examples once')
  })
}

t.test('the examples are real command lines', async (t) => {
  const { EXAMPLES, exampleLines } = await import('../../src/cli/help.js')
  t.strictSame(exampleLines([['$0 trace', 'x']]), ['$0 trace  # x'])
  const long = `$0 send ${'--to a@example.org '.repeat(5)}`
  t.strictSame(exampleLines([[long, 'many']]), ['# many', long], 'the comment above a long command')
  for (const [name, examples] of Object.entries(EXAMPLES))
    for (const [cmd] of examples) t.ok(cmd.startsWith(name === 'relay365' ? '$0 ' : `$0 ${name}`), `${name}: ${cmd}`)
})
