package testbed

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// KeyPrefix is where WriteKeys writes (v3 key prefix; v2 directory).
const KeyPrefix = "/etcdplay-bed/keys/"

// writeWorkers is how many writes WriteKeys has in flight: 2.0 commits one
// v2 write every ~25 ms, so sequential writing would dominate a test.
const writeWorkers = 8

// keyValue makes the value for key number seq: it names the cluster and the
// key and ends with a CRC of the rest, so a value that was truncated, mixed
// up with another key's or written by someone else is caught even without
// the record WriteKeys keeps.
func keyValue(cluster, key string, seq int) string {
	body := fmt.Sprintf("bed|%s|%s|%d|%x", cluster, key, seq, time.Now().UnixNano())
	return fmt.Sprintf("%s|%08x", body, crc32.ChecksumIEEE([]byte(body)))
}

func checkValue(key, value string) error {
	i := strings.LastIndexByte(value, '|')
	if i < 0 {
		return fmt.Errorf("%s: value %q has no checksum", key, value)
	}
	body, sum := value[:i], value[i+1:]
	if fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(body))) != sum {
		return fmt.Errorf("%s: checksum mismatch in %q", key, value)
	}
	if f := strings.Split(body, "|"); len(f) < 3 || f[2] != key {
		return fmt.Errorf("%s: value belongs to another key: %q", key, value)
	}
	return nil
}

// Keys returns how many keys WriteKeys has written so far.
func (c *Cluster) Keys() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys)
}

// WriteKeys writes n more keys under KeyPrefix with checksummed values,
// 8 at a time, through the v3 client (all endpoints) or, on a v2 cluster,
// the v2 HTTP API spread over the endpoints. The cluster remembers every
// key and value for VerifyKeys.
func (c *Cluster) WriteKeys(ctx context.Context, n int) error {
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Minute)
	defer cancel()
	c.mu.Lock()
	first := c.keySeq
	c.keySeq += n
	c.mu.Unlock()

	var put func(ctx context.Context, worker int, key, value string) error
	if c.API == "v3" {
		cli, err := c.client()
		if err != nil {
			return err
		}
		put = func(ctx context.Context, _ int, key, value string) error {
			_, err := cli.Put(ctx, key, value)
			return err
		}
	} else {
		eps := c.Endpoints()
		put = func(ctx context.Context, worker int, key, value string) error {
			var err error
			// A v2 set is idempotent, so a failed attempt moves on to the
			// next endpoint.
			for try := 0; try < len(eps); try++ {
				if err = v2Put(ctx, eps[(worker+try)%len(eps)], key, value); err == nil {
					return nil
				}
			}
			return err
		}
	}

	seqs := make(chan int)
	errc := make(chan error, writeWorkers)
	var wg sync.WaitGroup
	for w := 0; w < writeWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range seqs {
				key := fmt.Sprintf("%sk%06d", KeyPrefix, seq)
				value := keyValue(c.Name, key, seq)
				pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
				err := put(pctx, w, key, value)
				pcancel()
				if err != nil {
					errc <- fmt.Errorf("write %s: %w", key, err)
					return
				}
				c.mu.Lock()
				c.keys[key] = value
				c.mu.Unlock()
			}
		}()
	}
	var err error
feed:
	for seq := first; seq < first+n; seq++ {
		select {
		case seqs <- seq:
		case err = <-errc:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(seqs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	if err != nil {
		return fmt.Errorf("testbed: %s: %w", c.Name, err)
	}
	return nil
}

// VerifyKeys reads every key under KeyPrefix with a linearizable read and
// checks that each key WriteKeys wrote is there with its exact value and a
// valid checksum, and that there are no others. It returns how many keys
// checked out.
func (c *Cluster) VerifyKeys(ctx context.Context) (int, error) {
	ctx, cancel := withDefaultTimeout(ctx, time.Minute)
	defer cancel()
	var got map[string]string
	var err error
	if c.API == "v3" {
		var cli *clientv3.Client
		if cli, err = c.client(); err == nil {
			got, err = v3Read(ctx, cli)
		}
	} else {
		got, err = c.v2ReadAny(ctx, true)
	}
	if err != nil {
		return 0, fmt.Errorf("testbed: %s: read keys: %w", c.Name, err)
	}
	return c.compareKeys(got)
}

// VerifyKeysOn is VerifyKeys against member i alone, with a local
// (serializable) read: it shows that this member's own store holds the
// data, e.g. after it was upgraded. A follower may apply the last writes a
// moment after the quorum committed them, so the check is repeated until
// it passes or catchUp (or ctx) runs out.
func (c *Cluster) VerifyKeysOn(ctx context.Context, i int) (int, error) {
	ctx, cancel := withDefaultTimeout(ctx, time.Minute)
	defer cancel()
	deadline := time.Now().Add(catchUp)
	var cli *clientv3.Client
	if c.API == "v3" {
		var err error
		if cli, err = c.newV3Client([]string{c.Hosts[i].ClientURL}); err != nil {
			return 0, err
		}
		defer cli.Close()
	}
	for {
		var got map[string]string
		var err error
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		if cli != nil {
			got, err = v3Read(rctx, cli, clientv3.WithSerializable())
		} else {
			got, err = v2Read(rctx, c.Hosts[i].ClientURL, false)
		}
		rcancel()
		n := 0
		if err == nil {
			if n, err = c.compareKeys(got); err == nil {
				return n, nil
			}
		} else {
			err = fmt.Errorf("testbed: %s: read keys on %s: %w", c.Name, c.Hosts[i].Name, err)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return n, fmt.Errorf("%w (on %s, after %v)", err, c.Hosts[i].Name, catchUp)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// catchUp bounds how long VerifyKeysOn waits for a member to apply what
// the cluster committed.
const catchUp = 15 * time.Second

func (c *Cluster) compareKeys(got map[string]string) (int, error) {
	c.mu.Lock()
	want := maps.Clone(c.keys)
	c.mu.Unlock()
	var problems []string
	ok := 0
	for _, k := range slices.Sorted(maps.Keys(want)) {
		v, found := got[k]
		switch {
		case !found:
			problems = append(problems, k+": missing")
		case v != want[k]:
			problems = append(problems, fmt.Sprintf("%s: value %q, wrote %q", k, v, want[k]))
		default:
			if err := checkValue(k, v); err != nil {
				problems = append(problems, err.Error())
			} else {
				ok++
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, wrote := want[k]; !wrote {
			problems = append(problems, k+": not written by this cluster")
		}
	}
	if len(problems) > 0 {
		n := len(problems)
		if n > 5 {
			problems = append(problems[:5], "...")
		}
		return ok, fmt.Errorf("testbed: %s: %d of %d keys bad: %s", c.Name, n, len(want), strings.Join(problems, "; "))
	}
	return ok, nil
}

// v3Client is the cluster's shared clientv3, made on first use.
type v3Client = clientv3.Client

func (c *Cluster) client() (*clientv3.Client, error) {
	c.clientOnce.Do(func() { c.v3, c.v3err = c.newV3Client(c.Endpoints()) })
	return c.v3, c.v3err
}

// Client returns the cluster's shared v3 client (all endpoints); Close
// closes it. It is an error on a v2 cluster.
func (c *Cluster) Client() (*clientv3.Client, error) {
	if c.API != "v3" {
		return nil, fmt.Errorf("testbed: %s speaks the v2 API", c.Name)
	}
	return c.client()
}

// newV3Client is a clientv3 for endpoints, with the cluster's TLS (CA and
// client certificate) and etcd login when it has them.
func (c *Cluster) newV3Client(endpoints []string) (*clientv3.Client, error) {
	var tc *tls.Config
	if c.tlsConfig != nil {
		tc = c.tlsConfig.Clone()
	}
	var user, password string
	if c.Auth != nil {
		user, password = c.Auth.User, c.Auth.Password
	}
	return clientv3.New(clientv3.Config{
		TLS:                  tc,
		Username:             user,
		Password:             password,
		Endpoints:            endpoints,
		DialTimeout:          5 * time.Second,
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		Logger:               zap.NewNop(),
	})
}

func v3Read(ctx context.Context, cli *clientv3.Client, opts ...clientv3.OpOption) (map[string]string, error) {
	resp, err := cli.Get(ctx, KeyPrefix, append([]clientv3.OpOption{clientv3.WithPrefix()}, opts...)...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = string(kv.Value)
	}
	return out, nil
}

func v2Put(ctx context.Context, endpoint, key, value string) error {
	form := url.Values{"value": {value}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, endpoint+"/v2/keys"+key, strings.NewReader(form))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("PUT %s: status %d: %s", key, resp.StatusCode, short(body))
	}
	return nil
}

type v2Node struct {
	Key   string   `json:"key"`
	Value string   `json:"value"`
	Dir   bool     `json:"dir"`
	Nodes []v2Node `json:"nodes"`
}

// v2Read lists KeyPrefix recursively on one endpoint; quorum makes the read
// go through raft (a local read otherwise).
func v2Read(ctx context.Context, endpoint string, quorum bool) (map[string]string, error) {
	u := endpoint + "/v2/keys" + strings.TrimSuffix(KeyPrefix, "/") + "?recursive=true"
	if quorum {
		u += "&quorum=true"
	}
	body, status, err := httpGet(ctx, httpClient, u)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	if status == http.StatusNotFound {
		return out, nil
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d: %s", u, status, short(body))
	}
	var resp struct {
		Node v2Node `json:"node"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	var walk func(n v2Node)
	walk = func(n v2Node) {
		if !n.Dir {
			out[n.Key] = n.Value
		}
		for _, ch := range n.Nodes {
			walk(ch)
		}
	}
	walk(resp.Node)
	return out, nil
}

// v2ReadAny reads through the first endpoint that answers.
func (c *Cluster) v2ReadAny(ctx context.Context, quorum bool) (map[string]string, error) {
	var errs []error
	for _, ep := range c.Endpoints() {
		got, err := v2Read(ctx, ep, quorum)
		if err == nil {
			return got, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
