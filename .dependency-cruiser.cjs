// The house rules for imports inside src/ (issue 13), checked by test/deps/architecture.test.ts.
// Data flows one way: the SMTP adapter and the relay meet only through src/ports.ts (app.ts
// connects them); the policy core is pure and knows a World, never the config file's schema.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'no import cycle anywhere in src/ (types included)', from: { path: '^src/' }, to: { circular: true } },
    { name: 'smtp-not-relay', severity: 'error', comment: 'the SMTP adapter knows the relay only as the SmtpRelay port', from: { path: '^src/smtp/' }, to: { path: '^src/relay/' } },
    { name: 'relay-not-smtp', severity: 'error', comment: 'the relay does not climb back into the SMTP adapter (content inspection lives in src/content)', from: { path: '^src/relay/' }, to: { path: '^src/smtp/' } },
    { name: 'core-is-core', severity: 'error', comment: 'the policy core imports only itself (and libraries): no config schema, no I/O edge', from: { path: '^src/core/' }, to: { path: '^src/', pathNot: '^src/core/' } },
    { name: 'content-below-edges', severity: 'error', comment: 'content inspection sits below the relay and the adapter and depends only on the core', from: { path: '^src/content/' }, to: { path: '^src/', pathNot: '^src/(core|content)/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
}
