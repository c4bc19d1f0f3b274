package ssh

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Pool keeps one Client per host for a whole run, so every command to a
// host shares one connection (and one host key check, one login).
type Pool struct {
	mu      sync.Mutex
	clients map[string]*poolEntry
	closed  bool
}

type poolEntry struct {
	ready  chan struct{}
	client *Client
	err    error
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{clients: map[string]*poolEntry{}} }

// Get returns the pool's Client for cfg, dialling it on first use. Two
// identical configs share a client; concurrent first calls dial once. A
// failed dial is not cached: the next Get tries again.
func (p *Pool) Get(ctx context.Context, cfg Config) (*Client, error) {
	key := fmt.Sprintf("%#v", cfg)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("ssh: pool is closed")
	}
	e, ok := p.clients[key]
	if !ok {
		e = &poolEntry{ready: make(chan struct{})}
		p.clients[key] = e
		p.mu.Unlock()
		e.client, e.err = Dial(ctx, cfg)
		if e.err != nil {
			p.mu.Lock()
			delete(p.clients, key)
			p.mu.Unlock()
		}
		close(e.ready)
		return e.client, e.err
	}
	p.mu.Unlock()
	select {
	case <-e.ready:
		if e.err != nil {
			return p.Get(ctx, cfg)
		}
		return e.client, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close closes every client.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, e := range p.clients {
		select {
		case <-e.ready:
			if e.client != nil {
				e.client.Close()
			}
		default:
		}
	}
	p.clients = map[string]*poolEntry{}
	return nil
}
