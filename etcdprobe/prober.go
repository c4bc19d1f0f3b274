package etcdprobe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	defaultDialTimeout    = 3 * time.Second
	defaultRequestTimeout = 5 * time.Second
)

// Prober probes one cluster. It is lazy: New touches no network, and each
// call opens its own connections and closes them before returning, so a
// Prober is safe for concurrent use and Close only releases idle HTTP
// connections.
type Prober struct {
	endpoints []Endpoint
	opts      Options
	http      *http.Client
	transport *http.Transport
}

// New checks the endpoints and options; it does not connect.
func New(endpoints []Endpoint, opts Options) (*Prober, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("etcdprobe: no endpoints")
	}
	switch opts.API {
	case "":
		opts.API = APIv3
	case APIv2, APIv3:
	default:
		return nil, fmt.Errorf("etcdprobe: api %q: want %q or %q", opts.API, APIv2, APIv3)
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = defaultDialTimeout
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = defaultRequestTimeout
	}
	seen := map[string]bool{}
	eps := make([]Endpoint, len(endpoints))
	for i, ep := range endpoints {
		if ep.Name == "" {
			return nil, fmt.Errorf("etcdprobe: endpoint %d (%s): no name", i, ep.URL)
		}
		if seen[ep.Name] {
			return nil, fmt.Errorf("etcdprobe: endpoint %s: name used twice", ep.Name)
		}
		seen[ep.Name] = true
		u, err := url.Parse(ep.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("etcdprobe: endpoint %s: client url %q: want http(s)://host:port", ep.Name, ep.URL)
		}
		if u.Scheme == "https" && opts.TLS == nil {
			// https without an inventory tls section: system roots, like
			// curl and etcdctl do.
			opts.TLS = &tls.Config{}
		}
		eps[i] = Endpoint{Name: ep.Name, URL: strings.TrimRight(ep.URL, "/")}
	}
	// No connection outlives its request. A pooled HTTP transport keeps
	// idle connections and, when requests race, connections it dialled
	// but never used; an etcd 3.5 member's client port (cmux) waits for
	// such a connection's first line, and its graceful stop waits for
	// that wait: the stop hung until SIGKILL (docs/etcd-behaviour.md,
	// "Stopping a member"). A probe's few requests per member are cheap
	// to dial again.
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: opts.DialTimeout}).DialContext,
		TLSHandshakeTimeout: opts.DialTimeout,
		DisableKeepAlives:   true,
	}
	if opts.TLS != nil {
		tr.TLSClientConfig = opts.TLS.Clone()
	}
	return &Prober{
		endpoints: eps,
		opts:      opts,
		http:      &http.Client{Transport: tr},
		transport: tr,
	}, nil
}

// Close releases what the transport holds (nothing between requests:
// see New). gRPC clients never outlive a call.
func (p *Prober) Close() error {
	p.transport.CloseIdleConnections()
	return nil
}

// API is "v2" or "v3".
func (p *Prober) API() string { return p.opts.API }

// Endpoints returns a copy of the endpoints.
func (p *Prober) Endpoints() []Endpoint { return append([]Endpoint(nil), p.endpoints...) }

// Cluster probes every member concurrently, each under its own
// RequestTimeout (and ctx). An unreachable member is reported in its
// Member. The error is non-nil only when no member answered; the returned
// Cluster still lists every member with its error then.
func (p *Prober) Cluster(ctx context.Context) (*Cluster, error) {
	probes := make([]memberProbe, len(p.endpoints))
	var wg sync.WaitGroup
	for i, ep := range p.endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			probes[i] = p.probe(ctx, ep)
		}()
	}
	wg.Wait()
	c := assemble(p.opts.API, p.endpoints, probes)
	for _, m := range c.Members {
		if m.Reachable {
			return c, nil
		}
	}
	var msgs []string
	for _, m := range c.Members {
		msgs = append(msgs, m.Error)
	}
	if err := ctx.Err(); err != nil {
		return c, fmt.Errorf("no member answered: %w (%s)", err, strings.Join(msgs, "; "))
	}
	return c, fmt.Errorf("no member answered: %s", strings.Join(msgs, "; "))
}

// Member probes one member, by its inventory name or, failing that, by its
// name in the cluster's member list.
func (p *Prober) Member(ctx context.Context, name string) (*Member, error) {
	if ep, ok := p.endpoint(name); ok {
		// Named and matched as Cluster would (member list first).
		c := assemble(p.opts.API, []Endpoint{ep}, []memberProbe{p.probe(ctx, ep)})
		return &c.Members[0], nil
	}
	c, err := p.Cluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("member %s: %w", name, err)
	}
	if m := c.MemberByName(name); m != nil {
		return m, nil
	}
	return nil, fmt.Errorf("member %s: %w: not in the inventory nor in the member list", name, ErrUnknownMember)
}

// LeaderCommitted returns the leader's name and its committed raft index,
// the mark a restarted member must reach (by RaftAppliedIndex) to count as
// caught up.
func (p *Prober) LeaderCommitted(ctx context.Context) (string, uint64, error) {
	c, err := p.Cluster(ctx)
	if err != nil {
		return "", 0, fmt.Errorf("leader's raft index: %w", err)
	}
	l := c.LeaderMember()
	if l == nil || !l.Reachable {
		return "", 0, fmt.Errorf("leader's raft index: no reachable leader (leader id %s)", c.LeaderID)
	}
	return l.Name, l.RaftIndex, nil
}

// endpoint finds an endpoint by its inventory name.
func (p *Prober) endpoint(name string) (Endpoint, bool) {
	for _, ep := range p.endpoints {
		if ep.Name == name {
			return ep, true
		}
	}
	return Endpoint{}, false
}

// resolve finds the client URL of a member by inventory name, else by
// member-list name.
func (p *Prober) resolve(ctx context.Context, name string) (Endpoint, error) {
	if ep, ok := p.endpoint(name); ok {
		return ep, nil
	}
	c, err := p.Cluster(ctx)
	if err != nil {
		return Endpoint{}, fmt.Errorf("member %s: %w", name, err)
	}
	if m := c.MemberByName(name); m != nil && m.ClientURL != "" {
		return Endpoint{Name: m.Name, URL: m.ClientURL}, nil
	}
	return Endpoint{}, fmt.Errorf("member %s: %w: not in the inventory nor in the member list", name, ErrUnknownMember)
}

// probe runs one member's probe under its own deadline.
func (p *Prober) probe(ctx context.Context, ep Endpoint) memberProbe {
	ctx, cancel := context.WithTimeout(ctx, p.opts.RequestTimeout)
	defer cancel()
	var pr memberProbe
	if p.opts.API == APIv2 {
		pr = p.probeV2(ctx, ep)
	} else {
		pr = p.probeV3(ctx, ep)
	}
	pr.m.Name, pr.m.ClientURL = ep.Name, ep.URL
	return pr
}

// versions GETs /version.
func (p *Prober) versions(ctx context.Context, ep Endpoint) (Versions, error) {
	body, _, err := p.get(ctx, ep, "/version")
	if err != nil {
		return Versions{}, err
	}
	return ParseVersion(body)
}

// httpStatusError is a non-2xx answer: the member is up, it said no.
type httpStatusError struct {
	Code int
	Body string
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("http %d: %s", e.Code, strings.TrimSpace(e.Body))
}

// get GETs path on the member; a non-2xx status is an *httpStatusError
// carrying the body.
func (p *Prober) get(ctx context.Context, ep Endpoint, path string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.URL+path, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body, 1<<20)
	if err != nil {
		return nil, resp.Header, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		return body, resp.Header, &httpStatusError{Code: resp.StatusCode, Body: clip(body)}
	}
	return body, resp.Header, nil
}

// memberErr formats a member-level error: what, which member, where.
func (p *Prober) memberErr(ep Endpoint, what string, err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is already named
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("%s (%s): %s: no answer in time (request timeout %v)", ep.Name, ep.URL, what, p.opts.RequestTimeout)
	}
	return fmt.Sprintf("%s (%s): %s: %v", ep.Name, ep.URL, what, err)
}

// normURL compares client URLs loosely: scheme and host, lower case, no
// trailing slash.
func normURL(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return strings.ToLower(strings.TrimRight(s, "/"))
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}
