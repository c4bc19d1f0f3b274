package testbed

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Everything the bed starts it stops by pid. These helpers read /proc
// directly: a zombie (our processes are reparented to an init that reaps
// lazily) counts as gone, and a pid is only trusted when its command line
// still points into the run folder, so a recycled pid is never killed.

// procState returns the state letter of pid ("R", "S", "Z", ...) or "" when
// there is no such process.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// alive reports whether pid is a live (not zombie, not dead) process.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	switch procState(pid) {
	case "", "Z", "X", "x":
		return false
	}
	return true
}

func procPPID(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.Atoi(f[1])
	return p
}

func procCmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	return strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
}

func allPIDs() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		if p, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// procsUnder lists live processes whose command line or executable lies in
// dir: the etcd members (bin/etcd), the sshd daemons (-f dir/...), and
// anything a test ran from a host's bin folder.
func procsUnder(dir string) []int {
	dir = filepath.Clean(dir) + "/"
	self := os.Getpid()
	var out []int
	for _, p := range allPIDs() {
		if p == self || !alive(p) {
			continue
		}
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p))
		if strings.HasPrefix(exe, dir) || strings.Contains(procCmdline(p), dir) {
			out = append(out, p)
		}
	}
	return out
}

// descendants lists the live children, grandchildren, ... of root (the
// per-connection sshd processes and the shells they run).
func descendants(root int) []int {
	children := map[int][]int{}
	for _, p := range allPIDs() {
		pp := procPPID(p)
		children[pp] = append(children[pp], p)
	}
	// The parent links are read one process at a time while processes come
	// and go, so a reused pid can close a loop: visit each pid once.
	seen := map[int]bool{root: true}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			if seen[c] {
				continue
			}
			seen[c] = true
			if alive(c) {
				out = append(out, c)
			}
			queue = append(queue, c)
		}
	}
	return out
}

// terminate sends SIGTERM to every pid, waits up to grace for them to exit,
// then SIGKILLs the survivors and waits for them to be gone (or ctx).
func terminate(ctx context.Context, pids []int, grace time.Duration) error {
	pids = uniq(pids)
	for _, p := range pids {
		if alive(p) {
			_ = syscall.Kill(p, syscall.SIGTERM)
		}
	}
	if waitGone(ctx, pids, grace) {
		return nil
	}
	for _, p := range pids {
		if alive(p) {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
	if waitGone(ctx, pids, 5*time.Second) {
		return nil
	}
	var left []string
	for _, p := range pids {
		if alive(p) {
			left = append(left, fmt.Sprintf("%d (%s)", p, procCmdline(p)))
		}
	}
	return fmt.Errorf("processes survived SIGKILL: %s", strings.Join(left, ", "))
}

// waitGone polls until no pid is alive; false when d or ctx ran out first.
func waitGone(ctx context.Context, pids []int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		live := false
		for _, p := range pids {
			if alive(p) {
				live = true
				break
			}
		}
		if !live {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func uniq(in []int) []int {
	out := slices.DeleteFunc(slices.Clone(in), func(p int) bool { return p <= 0 })
	slices.Sort(out)
	return slices.Compact(out)
}

func readPIDFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return p
}

// Listening returns the listening TCP sockets bound to any of addrs (IP
// addresses; every port counts), read from /proc/net/tcp and tcp6. It is how
// the bed checks that a slot is free and that teardown left nothing bound.
func Listening(addrs []string) ([]string, error) {
	want := map[string]bool{}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil {
			want[ip.String()] = true
		}
	}
	var out []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		socks, err := readProcNetTCP(f)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, err
		}
		for _, s := range socks {
			if s.state == "0A" && want[s.ip.String()] {
				out = append(out, net.JoinHostPort(s.ip.String(), strconv.Itoa(s.port)))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

type procSock struct {
	ip    net.IP
	port  int
	state string
}

func readProcNetTCP(path string) ([]procSock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []procSock
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		host, port, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		raw, err := hex.DecodeString(host)
		if err != nil || len(raw)%4 != 0 {
			continue
		}
		// The kernel prints each 32-bit word in host (little-endian) order.
		for i := 0; i < len(raw); i += 4 {
			raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
		}
		pn, err := strconv.ParseUint(port, 16, 16)
		if err != nil {
			continue
		}
		ip := net.IP(raw)
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		out = append(out, procSock{ip: ip, port: int(pn), state: fields[3]})
	}
	return out, sc.Err()
}
