// Where the relative default paths go: the working directory in a checkout and the image, the
// user's data directory in an installed package, $RELAY365_HOME wherever it is set. The installed
// package itself is run in test/cli/install.test.ts.
import t from 'tap'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { dataHome, defaultPath, describeDataHome, isInstalledPackage, packageDir } from '../../src/config/data-home.js'
import { parseConfigText, parseExampleConfig } from '../../src/config/load.js'

t.test('a checkout is not an installed package; a directory under node_modules is', async (t) => {
  t.equal(isInstalledPackage(), false, `this checkout (${packageDir()})`)
  t.equal(isInstalledPackage('/usr/lib/node_modules/relay365/'), true)
  t.equal(isInstalledPackage('/home/u/project/node_modules/relay365/'), true)
  // a name that only contains the word is not the directory
  t.equal(isInstalledPackage('/home/u/my_node_modules_notes/relay365/'), false)
})

t.test('which directory, and why', async (t) => {
  t.same(dataHome({}, false), { dir: '', why: 'working directory' }, 'a checkout: the working directory')
  t.same(dataHome({ XDG_DATA_HOME: '/x' }, false), { dir: '', why: 'working directory' }, 'XDG is for installs')
  t.same(dataHome({ RELAY365_HOME: '/app' }, false), { dir: '/app', why: 'RELAY365_HOME' }, 'the image')
  t.same(dataHome({ RELAY365_HOME: '/r', XDG_DATA_HOME: '/x' }, true), { dir: '/r', why: 'RELAY365_HOME' })
  t.same(dataHome({ RELAY365_HOME: 'rel' }, true).dir, join(process.cwd(), 'rel'), 'relative: from the cwd')
  t.same(dataHome({ XDG_DATA_HOME: '/x' }, true), { dir: '/x/relay365', why: 'XDG_DATA_HOME' })
  const home = { dir: join(homedir(), '.local', 'share', 'relay365'), why: 'home' }
  t.same(dataHome({}, true), home, "XDG's default")
  t.same(dataHome({ XDG_DATA_HOME: 'relative' }, true), home, 'a relative XDG_DATA_HOME is ignored (XDG spec)')
})

t.test('defaultPath and the words config check prints', async (t) => {
  const cwd = { dir: '', why: 'working directory' } as const
  t.equal(defaultPath('data/spool', cwd), 'data/spool')
  t.equal(defaultPath('data/spool', { dir: '/x/relay365', why: 'XDG_DATA_HOME' }), '/x/relay365/data/spool')
  t.equal(describeDataHome(cwd), 'under the working directory')
  t.equal(describeDataHome({ dir: '/app', why: 'RELAY365_HOME' }), 'under /app ($RELAY365_HOME)')
  t.match(
    describeDataHome({ dir: '/h/.local/share/relay365', why: 'home' }),
    /^under \/h\/\.local\/share\/relay365 \(.*RELAY365_HOME/,
  )
})

t.test('defaults follow RELAY365_HOME; paths a config file gives stay as written', async (t) => {
  const saved = process.env.RELAY365_HOME
  t.teardown(() => {
    if (saved === undefined) delete process.env.RELAY365_HOME
    else process.env.RELAY365_HOME = saved
  })
  delete process.env.RELAY365_HOME
  t.match(parseExampleConfig(), { store: { trace: 'sqlite:data/trace.db' }, delivery: { spoolDir: 'data/spool' } })
  process.env.RELAY365_HOME = '/srv/relay365'
  t.match(parseExampleConfig(), {
    store: { trace: 'sqlite:/srv/relay365/data/trace.db' },
    delivery: { spoolDir: '/srv/relay365/data/spool' },
  })
  const own = parseConfigText(
    'tenant: {acceptedDomains: [contoso.edu]}\nstore: {trace: "sqlite:mine/trace.db"}\ndelivery: {spoolDir: q}\n',
  )
  t.match(own, { store: { trace: 'sqlite:mine/trace.db' }, delivery: { spoolDir: 'q' } })
})
