package sshserver

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// session serves one session channel: env requests before exec, one exec,
// then signal requests until the command ends.
func (s *Server) session(ctx context.Context, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	env := os.Environ()
	var proc *exec.Cmd
	done := make(chan error, 1)
	for {
		select {
		case req, ok := <-reqs:
			if !ok {
				// The client closed the channel: a command still running is
				// the kill switch's to end (its stdin hit EOF); make sure.
				if proc != nil {
					killGroup(proc, syscall.SIGKILL)
					<-done
				}
				return
			}
			switch req.Type {
			case "env":
				var kv struct{ Name, Value string }
				if ssh.Unmarshal(req.Payload, &kv) != nil || proc != nil {
					reply(req, false)
					continue
				}
				env = append(env, kv.Name+"="+kv.Value)
				reply(req, true)
			case "exec":
				var p struct{ Command string }
				if proc != nil || ssh.Unmarshal(req.Payload, &p) != nil {
					reply(req, false)
					continue
				}
				cmd, err := s.start(ch, p.Command, env)
				if err != nil {
					reply(req, false)
					io.WriteString(ch.Stderr(), "sshserver: "+err.Error()+"\n")
					return
				}
				reply(req, true)
				proc = cmd
				go func() { done <- cmd.Wait() }()
			case "signal":
				var p struct{ Signal string }
				if proc == nil || ssh.Unmarshal(req.Payload, &p) != nil {
					reply(req, false)
					continue
				}
				sig, ok := signals[p.Signal]
				if ok {
					killGroup(proc, sig)
				}
				reply(req, ok)
			default: // shell, pty-req, subsystem, x11-req, ...
				reply(req, false)
			}
		case <-done:
			sendExit(ch, proc.ProcessState)
			return
		case <-ctx.Done():
			if proc != nil {
				killGroup(proc, syscall.SIGKILL)
				<-done
			}
			return
		}
	}
}

// start runs command with /bin/sh -c in a session of its own, wired to ch.
// stdin is copied by hand, so Wait never waits on a client that keeps its
// side open; when the client's side ends, the command's stdin does.
func (s *Server) start(ch ssh.Channel, command string, env []string) (*exec.Cmd, error) {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = s.cfg.Dir
	cmd.Env = env
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	// A daemon that kept our stdout would hold Wait forever; sshd does not
	// wait for it either.
	cmd.WaitDelay = 2 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_, _ = io.Copy(stdin, ch)
		stdin.Close()
	}()
	return cmd, nil
}

// sendExit reports how the command ended: exit-status, or exit-signal when
// a signal killed it (RFC 4254 6.10). ps is nil when it could not be
// waited for.
func sendExit(ch ssh.Channel, ps *os.ProcessState) {
	var ws syscall.WaitStatus
	ok := false
	if ps != nil {
		ws, ok = ps.Sys().(syscall.WaitStatus)
	}
	if !ok {
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{255}))
		return
	}
	if ws.Signaled() {
		_, _ = ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
			Signal     string
			CoreDumped bool
			Message    string
			Lang       string
		}{Signal: signalName(ws.Signal()), CoreDumped: ws.CoreDump()}))
		return
	}
	_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(ws.ExitStatus())}))
}

// killGroup signals the command's whole session (its process group: it
// was started with setsid), as OpenSSH 8.1+ does for a signal request.
func killGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, sig)
	}
}

func reply(req *ssh.Request, ok bool) {
	if req.WantReply {
		_ = req.Reply(ok, nil)
	}
}

// signals maps RFC 4254 signal names to the local signals.
var signals = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "FPE": syscall.SIGFPE,
	"HUP": syscall.SIGHUP, "ILL": syscall.SIGILL, "INT": syscall.SIGINT,
	"KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE, "QUIT": syscall.SIGQUIT,
	"SEGV": syscall.SIGSEGV, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
}

func signalName(sig syscall.Signal) string {
	for name, s := range signals {
		if s == sig {
			return name
		}
	}
	return strings.ToUpper(strings.ReplaceAll(sig.String(), " ", "-"))
}
