import { spawn } from 'node:child_process';
import { constants } from 'node:os';

// A process started by a test or by `npm run demo` must not outlive its parent, even when that
// dies without cleaning up (SIGKILL, `timeout`, a crash). PR_SET_PDEATHSIG is per thread (a vitest worker
// thread would trip it), so instead the child runs under a small `sh` whose stdin is a pipe from
// this process: the pipe closes whenever this process dies, however, and then `sh` kills the child.

/**
 * $1: a dir to remove when the parent dies ("" for none); $2…: the command. Runs the command in the
 * background (stdin /dev/null, stdout/stderr passed through) and prints "pid N" on fd 3. Ctrl-C
 * (SIGINT to the terminal's process group) is the child's to handle: the shell ignores it, set
 * after the fork so the child keeps its own disposition. A watcher
 * blocks reading stdin: a line ("stop") or EOF (the parent died) ends the read, and the child is
 * killed (SIGCONT first, so a frozen one dies too). The shell lets go of stdout/stderr once both
 * run (a write to a dead parent's pipe, e.g. the "Killed" notice of `wait`, would SIGPIPE it, and
 * the parent has all the output once the pipes close). After "stop" the watcher ignores the TERM
 * the shell sends it once the child is gone: killed mid-way, it read as an orphaned parent and the dir
 * went, so a stopped test redis-server could not start again in it. Once the child is gone, "exit STATUS" (as
 * `wait` gives it: 128+N for signal N) goes to fd 3 unless the parent is gone. When the child ended by
 * itself and there is a dir, the shell stays to remove it should the parent die before "stop".
 */
const WRAPPER = `
dir=$1; shift
command -v "$1" >/dev/null 2>&1 || { echo "$1 not found" >&2; exit 127; }
exec 4<&0
"$@" </dev/null 3>&- 4<&- &
pid=$!
trap '' INT
(
  if read -r _ <&4; then st=0; trap '' TERM; else st=1; fi
  kill -CONT "$pid" 2>/dev/null
  kill -KILL "$pid" 2>/dev/null
  exit "$st"
) </dev/null >/dev/null 2>&1 3>&- &
wpid=$!
echo "pid $pid" >&3
exec >/dev/null 2>&1
wait "$pid"
st=$?
kill "$wpid" 2>/dev/null
wait "$wpid"
wst=$?
if [ "$wst" = 1 ]; then
  [ -z "$dir" ] || rm -rf -- "$dir"
  exit 0
fi
(echo "exit $st" >&3) 2>/dev/null
if [ "$wst" != 0 ] && [ -n "$dir" ]; then
  read -r _ <&4 || rm -rf -- "$dir"
fi
`;

export interface TiedExit {
  /** null when a signal ended it */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TiedProcess {
  /** The real child's pid (not the wrapper's): signals sent to it reach the command itself. */
  pid: number;
  /**
   * Resolves once the child is gone. The status is what `sh` reports, so an exit code above 128
   * reads as death by signal (code - 128): the commands run here never exit with such a code.
   */
  exited: Promise<TiedExit>;
  /** Whether the child still runs (a stopped one does). */
  running(): boolean;
  /** Sends `sig` to the child while it runs; a no-op once it is gone. */
  signal(sig: NodeJS.Signals): void;
  /** SIGCONT + SIGKILL, then waits for the child and the wrapper; idempotent. */
  stop(): Promise<TiedExit>;
}

export interface TiedOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Removed by the wrapper when this process dies before stop() (a temp dir of the child's). */
  removeOnOrphan?: string;
  /** Every chunk the child writes to stdout or stderr, from the first one. */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
  /** The child writes straight to this process's stdout/stderr (onOutput sees nothing). */
  inheritOutput?: boolean;
}

const signalName = (n: number) =>
  (Object.entries(constants.signals).find(([, v]) => v === n)?.[0] ?? null) as NodeJS.Signals | null;

function parseStatus(st: number): TiedExit {
  return st > 128 ? { code: null, signal: signalName(st - 128) } : { code: st, signal: null };
}

/** Starts `cmd args` tied to this process; resolves once it runs, with its pid. */
export async function spawnTied(cmd: string, args: string[], opts: TiedOptions = {}): Promise<TiedProcess> {
  const wrapper = spawn('sh', ['-c', WRAPPER, 'p28-tied', opts.removeOnOrphan ?? '', cmd, ...args], {
    cwd: opts.cwd,
    env: opts.env,
    stdio: opts.inheritOutput ? ['pipe', 'inherit', 'inherit', 'pipe'] : ['pipe', 'pipe', 'pipe', 'pipe'],
  });
  wrapper.stdin!.on('error', () => undefined);
  let stderr = '';
  wrapper.stdout?.on('data', (c) => opts.onOutput?.(String(c), 'stdout'));
  wrapper.stderr?.on('data', (c) => {
    stderr = (stderr + String(c)).slice(-4000);
    opts.onOutput?.(String(c), 'stderr');
  });
  const closed = new Promise<void>((resolve) => wrapper.once('close', () => resolve()));
  // the child's output is complete once both pipes close (the wrapper closes them before its report)
  const outputDone = Promise.all(
    [wrapper.stdout, wrapper.stderr].map((s) => s && new Promise((resolve) => s.once('close', resolve))),
  );

  let exit: TiedExit | undefined;
  let onExit: (e: TiedExit) => void = () => undefined;
  const exited = new Promise<TiedExit>((resolve) => (onExit = resolve));
  const settle = (e: TiedExit) => {
    if (exit) return;
    exit = e;
    onExit(e);
  };
  // a wrapper that ends without a report (killed itself) leaves nothing running either
  let reported: TiedExit | undefined;
  void closed.then(() => settle(reported ?? { code: wrapper.exitCode, signal: wrapper.signalCode }));

  const pid = await new Promise<number>((resolve, reject) => {
    let control = '';
    (wrapper.stdio[3] as NodeJS.ReadableStream).on('data', (c) => {
      control += String(c);
      for (let i = control.indexOf('\n'); i >= 0; i = control.indexOf('\n')) {
        const [what, value] = control.slice(0, i).split(' ');
        control = control.slice(i + 1);
        if (what === 'pid') resolve(Number(value));
        if (what === 'exit') {
          const status = (reported = parseStatus(Number(value)));
          void outputDone.then(() => settle(status));
        }
      }
    });
    wrapper.once('error', (err) => reject(new Error(`cannot run sh: ${err.message}`)));
    void closed.then(() => reject(new Error(`cannot start ${cmd}: ${stderr.trim()}`)));
  });

  return {
    pid,
    exited,
    running: () => exit === undefined,
    signal(sig) {
      if (reported ?? exit) return;
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    },
    async stop() {
      // "stop" rather than EOF: the wrapper keeps removeOnOrphan, the caller owns it
      if (wrapper.exitCode === null && wrapper.signalCode === null) wrapper.stdin!.end('stop\n');
      await closed;
      return exited;
    },
  };
}
