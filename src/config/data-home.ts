// Where relay365's relative default paths (data/trace.db, data/spool, certs/) go: the one place
// that decides it. A checkout, and the Docker image, keep them under the working directory as
// they always have: the compose file's volumes are /app/data and /app/certs. An installed package
// (`npm install -g relay365-<version>.tgz`) runs from any directory, and a tool must not scatter
// data/ and certs/ wherever it happens to be started: there they go under a per-user data
// directory. Paths a config file gives are the user's and stay as written (relative: to the
// working directory).
import { homedir } from 'node:os'
import { isAbsolute, join, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface DataHome {
  /** The directory relative defaults are under; '' is the working directory. */
  readonly dir: string
  /** Why: what the banner and config check say. */
  readonly why: 'RELAY365_HOME' | 'XDG_DATA_HOME' | 'home' | 'working directory'
}

/**
 * The package's own directory: two levels up from this module, whether it runs as
 * src/config/data-home.ts (tsx, tests), dist/config/ (tsc) or a chunk in dist/bin/ (the bundle).
 */
export function packageDir(): string {
  return fileURLToPath(new URL('../../', import.meta.url))
}

/**
 * An installed package sits in a node_modules directory (npm's global prefix or a project's); a
 * checkout, a linked checkout (Node runs the real path) and the image's /app do not.
 */
export function isInstalledPackage(dir: string = packageDir()): boolean {
  return dir.split(sep).includes('node_modules')
}

/**
 * $RELAY365_HOME wherever relay365 runs (the image sets it to /app, its working directory); else,
 * in an installed package, $XDG_DATA_HOME/relay365, else ~/.local/share/relay365 (the XDG default);
 * else the working directory. A relative $XDG_DATA_HOME is ignored, as the XDG specification says.
 */
export function dataHome(env: NodeJS.ProcessEnv = process.env, installed = isInstalledPackage()): DataHome {
  const own = env.RELAY365_HOME
  if (own) return { dir: resolve(own), why: 'RELAY365_HOME' }
  if (!installed) return { dir: '', why: 'working directory' }
  const xdg = env.XDG_DATA_HOME
  if (xdg && isAbsolute(xdg)) return { dir: join(xdg, 'relay365'), why: 'XDG_DATA_HOME' }
  return { dir: join(homedir(), '.local', 'share', 'relay365'), why: 'home' }
}

/** A default path (relative, like "data/spool") where this run keeps it. */
export function defaultPath(relative: string, home: DataHome = dataHome()): string {
  return home.dir ? join(home.dir, relative) : relative
}

/** "under /home/u/.local/share/relay365 (XDG_DATA_HOME)": for config check and the serve banner. */
export function describeDataHome(home: DataHome = dataHome()): string {
  if (!home.dir) return 'under the working directory'
  const why = home.why === 'home' ? 'installed package; set RELAY365_HOME to move it' : `$${home.why}`
  return `under ${home.dir} (${why})`
}
