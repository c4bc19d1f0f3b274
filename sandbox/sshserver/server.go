// Package sshserver is the sandbox's built-in SSH server: just enough of
// an sshd for etcdplay to drive a local cluster on a machine without root
// or OpenSSH, and nothing more. It listens on one address, accepts one
// user with one public key (the sandbox's own client key), and serves
// "session" channels with exec requests only: the command runs under
// `/bin/sh -c` as the user running the server, in a session of its own
// (like sshd, so etcdplay's kill switch, `kill 0`, reaches the command and
// never the server), with stdin, stdout, stderr, env and signal requests,
// and its exit status or the signal that killed it. No shell, pty,
// forwarding or subsystem: a client that asks is refused.
package sshserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Config describes one server.
type Config struct {
	// Addr is host:port to listen on ("127.0.0.11:2222").
	Addr string
	// User is the only user name accepted.
	User string
	// Authorized is the only client key accepted.
	Authorized ssh.PublicKey
	// HostKey is the server's key; nil makes a fresh ed25519 key.
	HostKey ssh.Signer
	// Dir is the commands' working directory (default: the user's home).
	Dir string
	// Logf, when set, receives one line per connection and refusal.
	Logf func(format string, args ...any)
}

// Server is a running server. Close stops it.
type Server struct {
	cfg  Config
	ln   net.Listener
	conf *ssh.ServerConfig

	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
	wg     sync.WaitGroup
}

// Start listens on cfg.Addr and serves in the background.
func Start(cfg Config) (*Server, error) {
	if cfg.Authorized == nil || cfg.User == "" {
		return nil, errors.New("sshserver: Config.User and Config.Authorized are required")
	}
	if cfg.HostKey == nil {
		_, sk, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		if cfg.HostKey, err = ssh.NewSignerFromKey(sk); err != nil {
			return nil, err
		}
	}
	if cfg.Dir == "" {
		cfg.Dir, _ = os.UserHomeDir()
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	want := cfg.Authorized.Marshal()
	conf := &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if meta.User() != cfg.User {
				return nil, fmt.Errorf("user %q not allowed", meta.User())
			}
			if string(key.Marshal()) != string(want) {
				return nil, fmt.Errorf("key %s not authorized", ssh.FingerprintSHA256(key))
			}
			return &ssh.Permissions{}, nil
		},
		ServerVersion: "SSH-2.0-etcdplay-sandbox",
	}
	conf.AddHostKey(cfg.HostKey)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("sshserver: %w", err)
	}
	s := &Server{cfg: cfg, ln: ln, conf: conf, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// HostKey is the server's public host key, for known_hosts.
func (s *Server) HostKey() ssh.PublicKey { return s.cfg.HostKey.PublicKey() }

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops listening, drops every connection (a command still running
// sees EOF on stdin and is signalled) and waits for the handlers to end.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return errors.New("sshserver: handlers still running 10 s after close")
	}
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // the handshake, as LoginGraceTime
	sc, chans, reqs, err := ssh.NewServerConn(c, s.conf)
	if err != nil {
		// A bare TCP probe (is it listening yet?) is not worth a line.
		if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			s.cfg.Logf("sshserver %s: refused %s: %v", s.cfg.Addr, c.RemoteAddr(), err)
		}
		return
	}
	_ = c.SetDeadline(time.Time{})
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.session(ctx, ch, chReqs)
		}()
	}
	cancel()
	wg.Wait()
}
