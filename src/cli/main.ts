// The `relay365` command line (docs/operations.md#cli). Exit codes: 0 ok, 1 runtime failure, 2 bad usage or
// invalid config (the message names the field). src/main.ts runs it; tests call main() in-process.
import { readFileSync } from 'node:fs'
import yargs from 'yargs'
import { exitCodeFor, UsageError } from '../errors.js'
import { EXAMPLES, exampleLines, exitCodes, withHelp } from './help.js'

// Each command's module is loaded when the command runs: `config check` need not load the relay.

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}

/**
 * package.json's version. Read, not imported: tsc builds src/ alone (rootDir), and the sources
 * (src/cli/), tsc's output (dist/cli/) and the bundle's chunks (dist/bin/) all sit two levels
 * under the package, in a checkout as in an installed package.
 */
export function packageVersion(): string {
  // npm packs package.json into every package: it is always there
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
    .version
}

export async function main(argv: string[]): Promise<number> {
  let code = 0
  const cli = yargs(argv)
    .scriptName('relay365')
    .usage('$0 <command> [options]\n\nAn SMTP relay that decides like a Microsoft 365 inbound connector.')
    // up to 100 columns: the help reads in a normal terminal, not at yargs' 80
    .wrap(Math.min(100, process.stdout.columns || 100))
    .example(exampleLines(EXAMPLES.relay365 ?? []).map((line) => [line, '']))
    .epilogue(exitCodes())
    .command(
      'serve',
      'run the relay (no config: the example config, examples/sample-tenant.yaml, on 127.0.0.1:2525)',
      (y) =>
        withHelp(y, 'serve', { exitCodes: false })
          .option('config', { type: 'string', describe: 'config file (YAML or JSON); default $RELAY365_CONFIG' })
          .option('workers', {
            type: 'number',
            describe: 'relay processes on the same ports (default smtp.workers, 1)',
          })
          // strings: a bad value is reported as typed ("--smtp-port: ... got \"abc\""), not as NaN
          .option('smtp-port', { type: 'string', describe: 'MX door port, over smtp.port (0: any free port)' })
          .option('submission-port', { type: 'string', describe: 'submission door port, over submission.port' })
          .option('http-port', { type: 'string', describe: 'UI and API port, over http.port' })
          .option('host', {
            type: 'string',
            describe: 'address of both SMTP doors, over smtp.host and submission.host (not the HTTP side)',
          })
          .epilogue(
            'Flags win over the config file. Exit codes: 0 stopped by SIGINT/SIGTERM, 1 runtime failure' +
              ' (an address in use names its key and flag), 2 bad usage or invalid config.',
          ),
      async (a) =>
        (await import('./serve.js')).serve({
          config: a.config,
          workers: a.workers,
          smtpPort: a['smtp-port'],
          submissionPort: a['submission-port'],
          httpPort: a['http-port'],
          host: a.host,
        }),
    )
    .command(
      'send',
      'send one message the way TeamDynamix does (STARTTLS, certificate not validated; AUTH only with --auth/--oauth)',
      (y) =>
        withHelp(y, 'send')
          .option('server', {
            type: 'string',
            describe:
              'HOST:PORT (default 127.0.0.1:2525, the MX door;' +
              ' with --auth or --oauth 127.0.0.1:2587, the submission door)',
          })
          .option('auth', {
            type: 'string',
            describe: 'MAILBOX:PASSWORD: "Use SMTP Authentication" checked (basic AUTH on the submission door)',
          })
          .option('oauth', { type: 'string', describe: 'TOKEN: XOAUTH2 as the --from mailbox on the submission door' })
          .conflicts('auth', 'oauth')
          .option('from', { type: 'string', demandOption: true, describe: 'envelope sender (P1)' })
          .option('to', { type: 'array', string: true, demandOption: true, describe: 'recipients' })
          .option('name', { type: 'string', describe: 'display name in the From header' })
          .option('header-from', { type: 'string', describe: 'header From address (P2), if not --from' })
          .option('subject', { type: 'string' })
          .option('body', { type: 'string' })
          .option('profile', { choices: ['teamdynamix'] as const, default: 'teamdynamix' as const })
          .option('security', {
            choices: ['explicit', 'none'] as const,
            default: 'explicit' as const,
            describe: 'TeamDynamix "Security": Explicit (STARTTLS) or None',
          })
          .option('helo', { type: 'string' })
          .option('verbose', { type: 'boolean', alias: 'v', describe: 'print the SMTP dialogue' }),
      async (a) => {
        const { send } = await import('./send.js')
        const result = await send({
          server: a.server,
          from: a.from,
          to: a.to,
          name: a.name,
          headerFrom: a['header-from'],
          subject: a.subject,
          body: a.body,
          security: a.security,
          helo: a.helo,
          verbose: a.verbose,
          auth: a.auth,
          oauth: a.oauth,
        })
        print(result.lines.join('\n'))
        if (!result.ok) code = 1
      },
    )
    .command(
      'load',
      'a bounded load with a summary by reply code and latency percentiles',
      (y) =>
        withHelp(y, 'load')
          .option('server', {
            type: 'string',
            describe: 'HOST:PORT (default 127.0.0.1:2525; with --auth 127.0.0.1:2587, the submission door)',
          })
          .option('rate', { type: 'string', default: '60/m', describe: 'messages per time: 60/m, 5/s, 250/h, or max' })
          .option('count', { type: 'number', default: 100, describe: 'messages to send' })
          .option('recipients', { type: 'number', default: 1, describe: 'recipients per message' })
          .option('concurrency', { type: 'number', default: 3, describe: 'messages in flight (and connections)' })
          .option('from', { type: 'string', default: 'helpdesk@contoso.example' })
          .option('to-domain', { type: 'string', default: 'example.org', describe: 'recipients are user<n>@DOMAIN' })
          .option('size', { type: 'number', default: 2048, describe: 'approximate message size, bytes' })
          .option('auth', { type: 'string', describe: 'MAILBOX:PASSWORD: submit on the SMTP AUTH lane' })
          .option('security', { choices: ['explicit', 'none'] as const, default: 'explicit' as const })
          .option('timeout', {
            type: 'number',
            default: 600,
            describe: 'stop after this many seconds whatever happens',
          })
          .option('api', {
            type: 'string',
            describe: "relay365's HTTP API (http://127.0.0.1:8025), to count fallback deliveries",
          })
          .option('direct', {
            type: 'string',
            describe:
              'HOST:PORT of the next hop: send the same load there directly first, and say what the relay adds' +
              ' to each message (p50, p99)',
          })
          .option('json', { type: 'boolean' }),
      async (a) => {
        const { loadCommand } = await import('./load.js')
        const result = await loadCommand({ ...a, toDomain: a['to-domain'] })
        print(result.output)
        if (result.summary.outcomes.failed > 0 || (result.direct?.summary.outcomes.failed ?? 0) > 0) code = 1
      },
    )
    .command(
      'experiment <file> [more..]',
      'run a rate-limit scenario on a simulated clock: report, timeline.csv and chart.svg;' +
        ' with several, a side-by-side report.md and report.html',
      (y) =>
        withHelp(y, 'experiment')
          .positional('file', { type: 'string', demandOption: true, describe: 'scenario YAML (see examples/)' })
          .positional('more', { type: 'string', array: true, describe: 'more scenarios to compare with the first' })
          .option('out', { type: 'string', describe: 'output directory (default experiments/<scenario name>)' })
          .option('traffic', {
            type: 'string',
            describe: "a message trace export (Get-MessageTraceV2 CSV or Graph JSON) for the scenario's traffic sender",
          })
          .option('engine', {
            choices: ['wire', 'core'] as const,
            describe:
              'wire: real SMTP through a real relay;' +
              " core: the policy core alone, no sockets (default: the scenario's, else wire)",
          })
          .option('speed', {
            type: 'string',
            describe:
              "simulated seconds per real second, or max: time jumps from send to send (default: the scenario's)",
          }),
      async (a) => {
        const { compareCommand, experimentCommand, parseSpeed } = await import('./experiment.js')
        const more = (a.more ?? []).map(String)
        const speed = a.speed === undefined ? undefined : parseSpeed(a.speed)
        if (more.length)
          print(
            (
              await compareCommand({
                files: [a.file, ...more],
                out: a.out,
                traffic: a.traffic,
                engine: a.engine,
                speed,
              })
            ).output,
          )
        else
          print(
            (await experimentCommand({ file: a.file, out: a.out, traffic: a.traffic, engine: a.engine, speed })).output,
          )
      },
    )
    .command(
      'trace',
      'show the message trace: every decision and the rule behind it',
      (y) =>
        withHelp(y, 'trace')
          .option('config', { type: 'string', describe: 'config file naming store.trace' })
          .option('status', {
            type: 'string',
            describe: 'Delivered, Failed, None, Fallback, Captured, Dropped, Pending or Mixed, in any case',
          })
          .option('since', { type: 'string', describe: 'a duration ago ("1h") or an ISO time' })
          .option('limit', { type: 'number', default: 20 })
          .option('id', { type: 'string', describe: 'one message, with every rule evaluated' })
          .option('json', { type: 'boolean' }),
      async (a) =>
        print(
          await (
            await import('./trace.js')
          ).traceCommand({
            config: a.config,
            status: a.status,
            since: a.since,
            limit: a.limit,
            id: a.id,
            json: a.json,
          }),
        ),
    )
    .command(
      'doctor',
      'check a domain for a TeamDynamix connector setup: MX -> smart host, SPF of the sending IPs' +
        ', config; print the TeamDynamix settings',
      (y) =>
        withHelp(y, 'doctor')
          .option('domain', {
            type: 'string',
            demandOption: true,
            describe: 'the sender domain (an accepted domain of the tenant)',
          })
          .option('ip', {
            type: 'array',
            string: true,
            describe: 'sending IPs to check against SPF (TeamDynamix egress)',
          })
          .option('resolver', {
            type: 'array',
            string: true,
            describe: 'DNS servers, IP or IP:PORT (default: the system resolvers)',
          })
          .option('config', {
            type: 'string',
            describe: 'config file to check (accepted domains, connectors); default $RELAY365_CONFIG',
          })
          .option('json', { type: 'boolean', describe: 'print the report as JSON' }),
      async (a) => {
        const { doctorCommand } = await import('./doctor.js')
        const result = await doctorCommand({
          domain: a.domain,
          ip: a.ip,
          resolver: a.resolver,
          config: a.config,
          json: a.json,
        })
        print(result.output)
        code = result.code
      },
    )
    .command('config', 'config file tools', (y) =>
      withHelp(y, 'config check')
        .command(
          'check [file]',
          'validate a config file (none: the example config) and print what it sets up',
          (z) =>
            withHelp(z, 'config check')
              .positional('file', { type: 'string' })
              .option('rules', { type: 'boolean', describe: 'list the policy rules in evaluation order' }),
          async (a) => print((await import('./config-check.js')).configCheck({ file: a.file, rules: a.rules })),
        )
        .demandCommand(1, 'name a config subcommand: check'),
    )
    .demandCommand(1, 'name a command: serve, send, load, experiment, trace, doctor or config check')
    .strict()
    .help()
    .version('version', 'print the version', `relay365 ${packageVersion()}`)
    .alias('version', 'V')
    // --help and --version print and return 0 here (src/main.ts sets the exit code), not end the process
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg)
    })
  try {
    await cli.parseAsync()
  } catch (err) {
    process.stderr.write(`relay365: ${(err as Error).message}\n`)
    if (err instanceof UsageError) process.stderr.write('Run "relay365 --help" for usage.\n')
    return exitCodeFor(err)
  }
  return code
}
