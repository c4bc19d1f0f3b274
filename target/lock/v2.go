package lock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// Runner runs one command on a member host. argv is already split; the
// transport quotes every word (transport/ssh's client is adapted to this by
// target). exit is the command's exit status; err is for failures to
// run it at all.
type Runner interface {
	Run(ctx context.Context, argv []string) (stdout, stderr []byte, exit int, err error)
}

// Target is one member host a v2 lock is taken on.
type Target struct {
	Name   string // the member's name, for messages
	Runner Runner
	// Dir is the folder the lock folder goes in: the member's backup_dir,
	// or DefaultV2Dir when empty. It is created if missing.
	Dir string
}

// DefaultV2Dir is where v2 lock folders go when a member has no backup_dir:
// it exists and is writable on every POSIX system, and survives reboots.
const DefaultV2Dir = "/var/tmp"

// LockDirV2 is the lock folder for cluster inside dir:
// <dir>/etcdplay-<cluster>.lock, with any character of the cluster name
// that is not a letter, digit, '.', '_' or '-' replaced by '_'.
func LockDirV2(dir, cluster string) string {
	if dir == "" {
		dir = DefaultV2Dir
	}
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, cluster)
	return path.Join(dir, "etcdplay-"+safe+".lock")
}

// The scripts get their data as positional parameters ($1 the lock
// folder, $2 the holder JSON), never spliced into the script text, so no
// path or name can change what runs. Exit 3 means "held by someone else",
// with their holder.json on stdout.
const (
	acquireScript = `set -u
d=$1 h=$2 me=$(id -u)
p=$(dirname -- "$d")
mkdir -p -- "$p" || exit 1
set -- $(ls -ldn -- "$p")
case "$1" in
?????????[tT]*) ;;
?????w*|????????w*) echo "$p is writable by group or others without the sticky bit ($1): refusing to keep the lock there (another user could replace it); chmod go-w it or set backup_dir to a private folder" >&2; exit 1 ;;
esac
if err=$(mkdir -m 700 -- "$d" 2>&1); then
  if printf '%s\n' "$h" >"$d/holder.json.tmp" && mv -f -- "$d/holder.json.tmp" "$d/holder.json"; then exit 0; fi
  rm -rf -- "$d"; exit 1
fi
if [ -d "$d" ] && [ ! -L "$d" ]; then
  set -- $(ls -ldn -- "$d")
  case "$1" in drwx------*) ;; *) false ;; esac && [ "$3" = "$me" ] || {
    echo "$d exists but is not a private lock folder of this user (mode $1, owner uid $3): refusing; remove it if no etcdplay run holds it" >&2; exit 1; }
  cat -- "$d/holder.json" 2>/dev/null; exit 3
fi
printf '%s\n' "$err" >&2; exit 1`
	// release removes the folder only when holder.json is exactly ours: a
	// lock broken and taken by another run since is left alone.
	releaseScript = `set -u
d=$1
[ -e "$d" ] || exit 0
if [ "$(cat -- "$d/holder.json" 2>/dev/null)" = "$2" ]; then rm -rf -- "$d"; exit $?; fi
cat -- "$d/holder.json" 2>/dev/null; exit 3`
	// check prints holder.json, or exits 4 when the folder is gone.
	checkScript = `set -u
d=$1
[ -d "$d" ] || exit 4
cat -- "$d/holder.json" 2>/dev/null
exit 0`
	breakScript = `set -u
d=$1
[ -e "$d" ] || exit 0
cat -- "$d/holder.json" 2>/dev/null
rm -rf -- "$d"`
	exitHeld = 3
)

// FileLock is a held v2 lock: a folder on every member host.
type FileLock struct {
	cluster string
	holder  Holder
	taken   []Target // where this run created the folder, in order
}

// AcquireV2 takes cluster's lock on every target, in order, or on none: if
// any host already holds it, the folders taken so far are removed and a
// *HeldError names the holder found. Hosts that share a file system (the
// test bed) are fine: finding our own holder counts as taken.
func AcquireV2(ctx context.Context, cluster string, targets []Target, h Holder) (*FileLock, error) {
	l := &FileLock{cluster: cluster, holder: h}
	for _, t := range targets {
		dir := LockDirV2(t.Dir, cluster)
		stdout, stderr, code, err := t.Runner.Run(ctx, []string{"sh", "-c", acquireScript, "etcdplay-lock", dir, h.marshal()})
		switch {
		case err == nil && code == 0:
			l.taken = append(l.taken, t)
			continue
		case err == nil && code == exitHeld:
			other := parseHolder(firstLine(stdout))
			if other != nil && other.same(h) {
				continue // the same folder, seen again through another host
			}
			err = &HeldError{Cluster: cluster, Holder: other, Key: t.Name + ":" + dir}
		case err == nil:
			err = fmt.Errorf("lock %s on %s: create %s: exit %d: %s", cluster, t.Name, dir, code, strings.TrimSpace(string(stderr)))
		default:
			err = fmt.Errorf("lock %s on %s: %w", cluster, t.Name, err)
		}
		if rerr := l.release(context.WithoutCancel(ctx)); rerr != nil {
			err = errors.Join(err, fmt.Errorf("and undoing the hosts already locked: %w", rerr))
		}
		return nil, err
	}
	return l, nil
}

// Check re-reads the holder on every host this run locked: a folder that
// is gone, or names another run (broken with --break-lock and taken
// since), means the lock is lost, wrapped as ErrLost. Folders cannot lapse
// the way a lease can, but another operator can break them, and then two
// runs would go on at once; the runner calls Check before every critical
// step.
func (l *FileLock) Check(ctx context.Context) error {
	want := l.holder.marshal()
	for _, t := range l.taken {
		dir := LockDirV2(t.Dir, l.cluster)
		stdout, stderr, code, err := t.Runner.Run(ctx, []string{"sh", "-c", checkScript, "etcdplay-lock", dir})
		switch {
		case err != nil:
			return fmt.Errorf("lock %s on %s: re-read %s: %w", l.cluster, t.Name, dir, err)
		case code == 4:
			return fmt.Errorf("lock %s on %s: %s is gone (broken by another operator?): %w", l.cluster, t.Name, dir, ErrLost)
		case code != 0:
			return fmt.Errorf("lock %s on %s: re-read %s: exit %d: %s", l.cluster, t.Name, dir, code, strings.TrimSpace(string(stderr)))
		}
		if got := firstLine(stdout); string(got) != want {
			who := "someone else"
			if o := parseHolder(got); o != nil {
				who = fmt.Sprintf("%s (run %s)", o, o.RunID)
			}
			return fmt.Errorf("lock %s on %s: now held by %s: %w", l.cluster, t.Name, who, ErrLost)
		}
	}
	return nil
}

// Holder is who this lock was taken for.
func (l *FileLock) Holder() Holder { return l.holder }

// Release removes the lock folder from every host this run created it on,
// in reverse order, going on past failures and returning them all.
func (l *FileLock) Release(ctx context.Context) error { return l.release(ctx) }

func (l *FileLock) release(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		defer cancel()
	}
	var errs []error
	for i := len(l.taken) - 1; i >= 0; i-- {
		t := l.taken[i]
		dir := LockDirV2(t.Dir, l.cluster)
		stdout, stderr, code, err := t.Runner.Run(ctx, []string{"sh", "-c", releaseScript, "etcdplay-lock", dir, l.holder.marshal()})
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("unlock %s on %s: %w", l.cluster, t.Name, err))
		case code == exitHeld:
			who := "someone else"
			if o := parseHolder(firstLine(stdout)); o != nil {
				who = fmt.Sprintf("%s (run %s)", o, o.RunID)
			}
			errs = append(errs, fmt.Errorf("unlock %s on %s: %s now holds %s; left alone", l.cluster, t.Name, who, dir))
		case code != 0:
			errs = append(errs, fmt.Errorf("unlock %s on %s: remove %s: exit %d: %s", l.cluster, t.Name, dir, code, strings.TrimSpace(string(stderr))))
		}
	}
	l.taken = nil
	return errors.Join(errs...)
}

// BreakV2 removes cluster's lock folder from every target whoever holds
// it, going on past failures, and returns the holders it found. Only for a
// lock whose run is known to be dead: the CLI asks the operator first.
func BreakV2(ctx context.Context, cluster string, targets []Target) ([]Holder, error) {
	var found []Holder
	var errs []error
	for _, t := range targets {
		dir := LockDirV2(t.Dir, cluster)
		stdout, stderr, code, err := t.Runner.Run(ctx, []string{"sh", "-c", breakScript, "etcdplay-lock", dir})
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("break lock %s on %s: %w", cluster, t.Name, err))
			continue
		case code != 0:
			errs = append(errs, fmt.Errorf("break lock %s on %s: remove %s: exit %d: %s", cluster, t.Name, dir, code, strings.TrimSpace(string(stderr))))
			continue
		}
		if h := parseHolder(firstLine(stdout)); h != nil && !slices.ContainsFunc(found, h.same) {
			found = append(found, *h)
		}
	}
	return found, errors.Join(errs...)
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}
