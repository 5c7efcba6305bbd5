// What each command's --help ends with: examples an administrator can paste, and the exit codes
// (the ones swaks and postfix users look for before scripting a tool). Lines stay under 100
// columns so the help reads in a normal terminal.
import type { Argv } from 'yargs'

/** The exit codes every command shares; a command's own meaning of 1 is added to it. */
export function exitCodes(failure = 'a runtime failure'): string {
  return `Exit codes: 0 ok, 1 ${failure}, 2 bad usage or invalid config (the message names the key).`
}

export type Example = readonly [command: string, description: string]

export const EXAMPLES: Readonly<Record<string, readonly Example[]>> = {
  relay365: [
    ['$0 serve', 'the relay on the example config (MX door 127.0.0.1:2525)'],
    ['$0 send --from helpdesk@contoso.example --to a@example.org', 'one message'],
    ['$0 trace --status failed', 'what was refused, and the rule behind it'],
    ['$0 <command> --help', "a command's options, examples and exit codes"],
  ],
  serve: [
    ['$0 serve', 'the example config on 127.0.0.1:2525 (MX) and :2587 (submission)'],
    ['$0 serve --config tenant.yaml', 'your tenant: accepted domains, connectors, limits'],
  ],
  send: [
    ['$0 send --from helpdesk@contoso.example --to a@example.org', 'through the connector'],
    ['$0 send --from app@contoso.example --to a@example.org --auth app@contoso.example:PASS', 'SMTP AUTH'],
    ['$0 send --from helpdesk@contoso.example --to a@example.org -v', 'print the SMTP dialogue'],
  ],
  load: [
    ['$0 load --rate 5/s --count 200', '200 messages at 5 a second through the connector'],
    ['$0 load --auth app@contoso.example:secret --rate max --count 100', 'the SMTP AUTH throttle'],
    ['$0 load --concurrency 1 --rate max --count 500 --direct 127.0.0.1:2526', 'what the relay adds per message'],
  ],
  experiment: [
    ['$0 experiment examples/smtp-auth-day.yaml', 'one scenario: report, timeline.csv, chart.svg'],
    ['$0 experiment examples/smtp-auth-day.yaml examples/connector-day.yaml', 'side by side'],
  ],
  trace: [
    ['$0 trace --since 1h', 'the last hour, newest first'],
    ['$0 trace --status failed --limit 5', 'the five newest refused messages (status in any case)'],
    ['$0 trace --id <id>', 'one message with every rule evaluated'],
  ],
  doctor: [['$0 doctor --domain contoso.edu --ip 198.51.100.7', 'MX, SPF of the sending IP, the settings']],
  'config check': [
    ['$0 config check tenant.yaml', 'validate a config and print what it sets up'],
    ['$0 config check --rules', 'the policy rules in evaluation order'],
  ],
}

/** The failure exit 1 means for each command, where it is more than "a runtime failure". */
const FAILURES: Readonly<Record<string, string>> = {
  send: 'a recipient refused, the message refused or the server unreachable',
  load: 'a message failed',
  doctor: 'a check failed',
}

/**
 * yargs lays examples out in two columns and wraps a long command line in the first; written as
 * one line with a shell comment ("relay365 trace --since 1h  # the last hour") they stay whole
 * and can be pasted, the comment above the command where both do not fit in 96 columns.
 */
export function exampleLines(examples: readonly Example[]): string[] {
  const lines: string[] = []
  for (const [cmd, description] of examples) {
    const line = `${cmd}  # ${description}`
    if (line.replace('$0', 'relay365').length <= 96) lines.push(line)
    else lines.push(`# ${description}`, cmd)
  }
  return lines
}

/** Adds `command`'s examples and exit codes to its --help. */
export function withHelp<T>(y: Argv<T>, command: string, options: { exitCodes?: boolean } = {}): Argv<T> {
  for (const line of exampleLines(EXAMPLES[command] ?? [])) y = y.example(line, '')
  return options.exitCodes === false ? y : y.epilogue(exitCodes(FAILURES[command]))
}
