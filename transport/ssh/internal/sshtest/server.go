// Package sshtest is an in-process SSH server for the transport's unit
// tests. It runs "exec" requests with the local sh, as sshd does (the
// command's shell leads its own session and process group), so exit status,
// output, stdin EOF and killing behave like a real server, and it can
// misbehave on demand: drop every connection, or stop answering keepalives.
package sshtest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	xssh "golang.org/x/crypto/ssh"
)

// Server is a listening in-process SSH server.
type Server struct {
	Addr string // 127.0.0.1:port

	t        testing.TB
	ln       net.Listener
	cfg      *xssh.ServerConfig
	mu       sync.Mutex
	conns    []net.Conn
	authKeys [][]byte

	silent       atomic.Bool  // stop answering global requests
	Sessions     atomic.Int64 // sessions currently open
	Execs        atomic.Int64 // exec requests served
	Signals      chan string  // signal names received (buffered)
	AuthAttempts atomic.Int64
}

// Options configure a Server.
type Options struct {
	HostKeys       []xssh.Signer    // at least one
	AuthorizedKeys []xssh.PublicKey // keys allowed to log in (any user)
}

// Start listens on 127.0.0.1 and serves until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{t: t, Signals: make(chan string, 16)}
	for _, k := range o.AuthorizedKeys {
		s.authKeys = append(s.authKeys, k.Marshal())
	}
	s.cfg = &xssh.ServerConfig{
		PublicKeyCallback: func(_ xssh.ConnMetadata, key xssh.PublicKey) (*xssh.Permissions, error) {
			s.AuthAttempts.Add(1)
			for _, k := range s.authKeys {
				if string(k) == string(key.Marshal()) {
					return &xssh.Permissions{}, nil
				}
			}
			return nil, errors.New("key not authorized")
		},
	}
	for _, k := range o.HostKeys {
		s.cfg.AddHostKey(k)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	s.Addr = ln.Addr().String()
	go s.serve()
	t.Cleanup(func() { ln.Close(); s.DropConnections() })
	return s
}

// Port is the listening port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// DropConnections closes every TCP connection, like a host that reboots.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

// SetSilent makes the server stop (or resume) answering global requests
// such as keepalive@openssh.com, like a peer that vanished.
func (s *Server) SetSilent(v bool) { s.silent.Store(v) }

func (s *Server) serve() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, nc)
		s.mu.Unlock()
		go s.handle(nc)
	}
}

func (s *Server) handle(nc net.Conn) {
	_, chans, reqs, err := xssh.NewServerConn(nc, s.cfg)
	if err != nil {
		nc.Close()
		return
	}
	go func() {
		for r := range reqs {
			if s.silent.Load() {
				continue // never reply
			}
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}()
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			ch, creqs, err := nch.Accept()
			if err != nil {
				continue
			}
			go s.session(ch, creqs)
		case "direct-tcpip":
			s.directTCPIP(nch)
		default:
			nch.Reject(xssh.UnknownChannelType, "unsupported")
		}
	}
}

// directTCPIP forwards a jump-host connection.
func (s *Server) directTCPIP(nch xssh.NewChannel) {
	var msg struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := xssh.Unmarshal(nch.ExtraData(), &msg); err != nil {
		nch.Reject(xssh.ConnectionFailed, err.Error())
		return
	}
	dst, err := net.Dial("tcp", net.JoinHostPort(msg.Host, itoa(msg.Port)))
	if err != nil {
		nch.Reject(xssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		dst.Close()
		return
	}
	go xssh.DiscardRequests(reqs)
	go func() { io.Copy(ch, dst); ch.CloseWrite() }()
	go func() { io.Copy(dst, ch); dst.Close() }()
}

func itoa(n uint32) string { return fmtUint(n) }

func fmtUint(n uint32) string {
	if n == 0 {
		return "0"
	}
	var b [10]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func (s *Server) session(ch xssh.Channel, reqs <-chan *xssh.Request) {
	s.Sessions.Add(1)
	defer s.Sessions.Add(-1)
	defer ch.Close()
	var cmd *exec.Cmd
	exited := make(chan struct{})
	for r := range reqs {
		switch r.Type {
		case "exec":
			if cmd != nil {
				r.Reply(false, nil)
				continue
			}
			var p struct{ Command string }
			if err := xssh.Unmarshal(r.Payload, &p); err != nil {
				r.Reply(false, nil)
				continue
			}
			s.Execs.Add(1)
			cmd = exec.Command("sh", "-c", p.Command)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			stdin, _ := cmd.StdinPipe()
			cmd.Stdout = ch
			cmd.Stderr = ch.Stderr()
			if err := cmd.Start(); err != nil {
				r.Reply(false, nil)
				continue
			}
			r.Reply(true, nil)
			go func() { io.Copy(stdin, ch); stdin.Close() }()
			go func(c *exec.Cmd) {
				err := c.Wait()
				status := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
						status = 128 + int(ws.Signal())
					} else {
						status = ee.ExitCode()
					}
				}
				var b [4]byte
				binary.BigEndian.PutUint32(b[:], uint32(status))
				ch.SendRequest("exit-status", false, b[:])
				ch.Close()
				close(exited)
			}(cmd)
		case "signal":
			var p struct{ Signal string }
			xssh.Unmarshal(r.Payload, &p)
			select {
			case s.Signals <- p.Signal:
			default:
			}
			if cmd != nil && cmd.Process != nil && p.Signal == "KILL" {
				cmd.Process.Kill() // like sshd: the shell only, not its group
			}
		default:
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}
	// The client closed the channel; the command may still be running,
	// as with sshd: its stdin has reached EOF, nothing more.
}
