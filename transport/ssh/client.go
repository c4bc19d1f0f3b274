package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	xssh "golang.org/x/crypto/ssh"
)

// Client is one host reached over SSH: a single connection shared by every
// command, redialled once (with the host key verified again) when it has
// dropped. It is safe for concurrent use.
type Client struct {
	cfg Config
	t   *target

	mu     sync.Mutex
	conn   *conn
	closed bool
}

// conn is one live SSH connection, through its jump hosts.
type conn struct {
	client *xssh.Client
	hops   []*xssh.Client
	auths  []*auth

	once    sync.Once
	dead    chan struct{}
	deadErr error
}

// Dial resolves cfg against its ssh_config file, connects (through every
// ProxyJump hop), verifies each host key and authenticates. Errors name the
// host; host key and key problems are the typed errors of this package.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	t, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, t: t}
	cn, err := connect(ctx, t)
	if err != nil {
		return nil, err
	}
	c.conn = cn
	return c, nil
}

// Host names the client's target in messages: alias (user@host:port).
func (c *Client) Host() string { return c.t.String() }

// Close closes the connection; later calls fail.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.conn != nil {
		c.conn.kill(errors.New("client closed"))
		c.conn = nil
	}
	return nil
}

func connect(ctx context.Context, t *target) (*conn, error) {
	cn := &conn{dead: make(chan struct{})}
	var via *xssh.Client
	var prev *target
	for _, hop := range append(append([]*target{}, t.jumps...), t) {
		hctx, cancel := context.WithTimeout(ctx, hop.connectTimeout)
		xc, au, err := dialOne(hctx, hop, via)
		cancel()
		if err != nil {
			cn.closeAll()
			if hop != t {
				return nil, fmt.Errorf("ssh %s: jump host: %w", t, err)
			}
			if prev != nil {
				// The last hop opened the forward; say which, since the
				// refusal may be the jump host's view of the network.
				return nil, fmt.Errorf("%w (reached through jump host %s)", err, prev)
			}
			return nil, err
		}
		prev = hop
		cn.auths = append(cn.auths, au)
		if hop != t {
			cn.hops = append(cn.hops, xc)
		}
		cn.client = xc
		via = xc
	}
	go func() {
		err := cn.client.Wait()
		cn.kill(fmt.Errorf("connection closed: %v", err))
	}()
	go cn.keepalive(t)
	return cn, nil
}

// dialOne connects to t, directly or through via, and authenticates.
func dialOne(ctx context.Context, t *target, via *xssh.Client) (*xssh.Client, *auth, error) {
	hk, err := loadHostKeys(t)
	if err != nil {
		return nil, nil, err
	}
	au, err := loadAuth(t)
	if err != nil {
		return nil, nil, err
	}
	addr := t.addr()
	var nc net.Conn
	if via == nil {
		nc, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	} else {
		nc, err = via.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		au.close()
		return nil, nil, fmt.Errorf("ssh %s: connect: %w", t, err)
	}
	cfg := &xssh.ClientConfig{
		User:              t.user,
		Auth:              au.methods(),
		HostKeyCallback:   hk.callback(addr),
		HostKeyAlgorithms: hk.algorithms(addr),
	}
	// The handshake has no context of its own, and a channel through a jump
	// host has no deadlines: closing the conn is what interrupts it.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	c, chans, reqs, err := xssh.NewClientConn(nc, addr, cfg)
	if !stop() && err == nil {
		c.Close()
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		au.close()
		return nil, nil, classifyDialError(ctx, t, au, err)
	}
	return xssh.NewClient(c, chans, reqs), au, nil
}

func classifyDialError(ctx context.Context, t *target, au *auth, err error) error {
	var unknown *UnknownHostKeyError
	var changed *HostKeyChangedError
	var revoked *HostKeyRevokedError
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("ssh %s: %w", t, unknown)
	case errors.As(err, &changed):
		return changed // already loud and complete
	case errors.As(err, &revoked):
		return fmt.Errorf("ssh %s: %w", t, revoked)
	case strings.Contains(err.Error(), "unable to authenticate"):
		if len(au.encrypted) > 0 {
			return &EncryptedKeyError{Host: t.String(), Files: au.encrypted}
		}
		return &AuthError{Host: t.String(), Err: err}
	case ctx.Err() != nil:
		return fmt.Errorf("ssh %s: handshake: %w", t, ctx.Err())
	}
	return fmt.Errorf("ssh %s: handshake: %w", t, err)
}

// AuthError is a server that accepted none of our keys.
type AuthError struct {
	Host string
	Err  error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("ssh %s: authentication refused: %v", e.Host, e.Err)
}

func (e *AuthError) Unwrap() error { return e.Err }

// Hint for a refused login.
func (e *AuthError) Hint() string {
	return "check the user and that one of your keys (agent or identity file) is in the remote authorized_keys"
}

// kill marks the connection dead (once) and closes it and its hops.
func (cn *conn) kill(err error) {
	cn.once.Do(func() {
		cn.deadErr = err
		cn.closeAll()
		close(cn.dead)
	})
}

func (cn *conn) closeAll() {
	if cn.client != nil {
		cn.client.Close()
	}
	for i := len(cn.hops) - 1; i >= 0; i-- {
		cn.hops[i].Close()
	}
	for _, a := range cn.auths {
		a.close()
	}
}

func (cn *conn) isDead() bool {
	select {
	case <-cn.dead:
		return true
	default:
		return false
	}
}

// keepalive sends keepalive@openssh.com (OpenSSH answers it, with a
// failure, which is still an answer) and closes the connection when a reply
// does not come in time, so a peer that vanished without a FIN or RST is
// noticed instead of hanging the next command.
func (cn *conn) keepalive(t *target) {
	if t.keepAlive < 0 {
		return
	}
	tick := time.NewTicker(t.keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-cn.dead:
			return
		case <-tick.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := cn.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		timer := time.NewTimer(t.keepAliveWait)
		select {
		case err := <-reply:
			timer.Stop()
			if err != nil {
				cn.kill(fmt.Errorf("keepalive: %w", err))
				return
			}
		case <-timer.C:
			cn.kill(fmt.Errorf("no keepalive reply in %s: the host or the network is gone", t.keepAliveWait))
			return
		case <-cn.dead:
			timer.Stop()
			return
		}
	}
}

// live returns a working connection, dialling again when the current one is
// dead. Reconnecting is safe here because no command has started on it.
func (c *Client) live(ctx context.Context, stale *conn) (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("ssh %s: client is closed", c.t)
	}
	if c.conn != nil && c.conn != stale && !c.conn.isDead() {
		return c.conn, nil
	}
	if c.conn != nil {
		c.conn.kill(errors.New("replaced by a new connection"))
	}
	cn, err := connect(ctx, c.t)
	if err != nil {
		c.conn = nil
		return nil, fmt.Errorf("reconnect: %w", err)
	}
	c.conn = cn
	return cn, nil
}

// session opens a session, redialling once if the connection turns out to
// be gone. Nothing has run on the remote side yet at this point.
func (c *Client) session(ctx context.Context) (*xssh.Session, *conn, error) {
	cn, err := c.live(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	s, err := openSession(ctx, cn)
	if err == nil {
		return s, cn, nil
	}
	if ctx.Err() != nil {
		return nil, nil, fmt.Errorf("ssh %s: open session: %w", c.t, ctx.Err())
	}
	cn.kill(fmt.Errorf("open session: %w", err))
	if cn, err = c.live(ctx, cn); err != nil {
		return nil, nil, err
	}
	s, err = openSession(ctx, cn)
	if err != nil {
		return nil, nil, fmt.Errorf("ssh %s: open session after reconnect: %w", c.t, err)
	}
	return s, cn, nil
}

func openSession(ctx context.Context, cn *conn) (*xssh.Session, error) {
	type res struct {
		s   *xssh.Session
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := cn.client.NewSession()
		ch <- res{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-cn.dead:
		return nil, cn.deadErr
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}
