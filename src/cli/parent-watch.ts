// Notices that the process which started this one has ended, however it ended. A shell killed with
// SIGKILL, or a script's parent that crashed, sends its children nothing: without this, a relay
// started from it would go on holding its ports, its spool and its trace as an orphan. Node has no
// parent-death signal (Linux's PR_SET_PDEATHSIG), so the parent's pid is compared with what it
// was at start: an orphan is handed to init or a subreaper, and its parent pid changes.

/** How often the parent pid is read: a syscall, well under a millisecond. */
export const PARENT_POLL_MS = 500

/**
 * Calls `onGone(pid of the parent that ended)` once, when this process's parent is no longer
 * `parent`. Pass the pid read as the process started (`parent`, default: now): a parent that ended
 * while the process was still starting has changed it already, and is reported at the first poll.
 * A process started by init (pid 1: a service manager, a container's init) or with no parent
 * (pid 0: the container's first process) is where it belongs already, and is not watched.
 * Returns `stop`.
 */
export function watchParent(
  onGone: (parent: number) => void,
  options: { intervalMs?: number; ppid?: () => number; parent?: number } = {},
): () => void {
  const ppid = options.ppid ?? (() => process.ppid)
  const parent = options.parent ?? ppid()
  if (parent <= 1) return () => undefined
  const timer = setInterval(() => {
    if (ppid() === parent) return
    clearInterval(timer)
    onGone(parent)
  }, options.intervalMs ?? PARENT_POLL_MS)
  // the relay's own work keeps the process alive; the watch never does
  timer.unref()
  return () => clearInterval(timer)
}
