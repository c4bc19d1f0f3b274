package testbed

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The bed's own minimal view of a member over plain HTTP, good for every
// version from 2.0 to 3.7. The real probe (etcdprobe) is a separate
// package; this one only has to tell "up, healthy, on version X".

var httpClient = &http.Client{
	Timeout: 5 * time.Second,
	Transport: &http.Transport{
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     10 * time.Second,
	},
}

// VersionInfo is a member's GET /version.
type VersionInfo struct {
	Server  string // etcdserver ("3.5.35"); releaseVersion on 2.0
	Cluster string // etcdcluster ("3.5.0"); "" on 2.0, "not_decided" early on 2.1+
	Storage string // storage, 3.6+
}

// ServerVersion reads clientURL/version. 2.0 answers
// {"releaseVersion":"2.0.8","internalVersion":"2"}; 2.1+ answers
// {"etcdserver":...,"etcdcluster":...}; 3.6+ adds "storage". Very old
// servers answer plain text "etcd 2.0.x", which is accepted too.
func ServerVersion(ctx context.Context, clientURL string) (VersionInfo, error) {
	return serverVersion(ctx, httpClient, clientURL)
}

// ServerVersion is the package's ServerVersion for member i, over TLS with
// the cluster's client certificate when it is production-shaped.
func (c *Cluster) ServerVersion(ctx context.Context, i int) (VersionInfo, error) {
	return serverVersion(ctx, c.http(), c.Hosts[i].ClientURL)
}

func serverVersion(ctx context.Context, hc *http.Client, clientURL string) (VersionInfo, error) {
	body, status, err := httpGet(ctx, hc, strings.TrimRight(clientURL, "/")+"/version")
	if err != nil {
		return VersionInfo{}, err
	}
	if status != http.StatusOK {
		return VersionInfo{}, fmt.Errorf("GET %s/version: status %d: %s", clientURL, status, short(body))
	}
	return parseVersion(body)
}

func parseVersion(body []byte) (VersionInfo, error) {
	var v struct {
		Server         string `json:"etcdserver"`
		Cluster        string `json:"etcdcluster"`
		Storage        string `json:"storage"`
		ReleaseVersion string `json:"releaseVersion"`
	}
	if err := json.Unmarshal(body, &v); err == nil {
		if v.Server == "" {
			v.Server = v.ReleaseVersion
		}
		if v.Server == "" {
			return VersionInfo{}, fmt.Errorf("/version: no server version in %s", short(body))
		}
		return VersionInfo{Server: v.Server, Cluster: v.Cluster, Storage: v.Storage}, nil
	}
	if f := strings.Fields(string(body)); len(f) == 2 && f[0] == "etcd" {
		return VersionInfo{Server: strings.TrimPrefix(f[1], "v")}, nil
	}
	return VersionInfo{}, fmt.Errorf("/version: cannot parse %s", short(body))
}

// Health reads clientURL/health: {"health":"true"} (2.x: {"health": "true"}).
// 3.4+ answers 503 with "false" when the member has no leader; that is a
// false, not an error.
func Health(ctx context.Context, clientURL string) (bool, error) {
	return health(ctx, httpClient, clientURL)
}

// Health is the package's Health for member i, over TLS with the
// cluster's client certificate when it is production-shaped.
func (c *Cluster) Health(ctx context.Context, i int) (bool, error) {
	return health(ctx, c.http(), c.Hosts[i].ClientURL)
}

func health(ctx context.Context, hc *http.Client, clientURL string) (bool, error) {
	body, status, err := httpGet(ctx, hc, strings.TrimRight(clientURL, "/")+"/health")
	if err != nil {
		return false, err
	}
	var h struct {
		Health any `json:"health"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return false, fmt.Errorf("GET %s/health: status %d: %s", clientURL, status, short(body))
	}
	return status == http.StatusOK && fmt.Sprint(h.Health) == "true", nil
}

// http is the cluster's HTTP client: the shared plain one, or one that
// speaks TLS with the cluster's CA and client certificate.
func (c *Cluster) http() *http.Client {
	if c.tlsConfig == nil {
		return httpClient
	}
	c.httpOnce.Do(func() {
		c.httpc = &http.Client{
			Timeout: httpClient.Timeout,
			Transport: &http.Transport{
				TLSClientConfig:     c.tlsConfig.Clone(),
				MaxIdleConnsPerHost: 16,
				IdleConnTimeout:     10 * time.Second,
			},
		}
	})
	return c.httpc
}

func httpGet(ctx context.Context, hc *http.Client, url string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return body, resp.StatusCode, err
}

func short(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// Leader returns the index of the member that currently leads, asking each
// member in turn (v3: Status; v2: /v2/stats/self state StateLeader).
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	ctx, cancel := withDefaultTimeout(ctx, 10*time.Second)
	defer cancel()
	var errs []string
	for i, h := range c.Hosts {
		if c.MemberPID(i) == 0 {
			continue
		}
		lead, err := isLeader(ctx, c, h)
		if err != nil {
			errs = append(errs, h.Name+": "+err.Error())
			continue
		}
		if lead {
			return i, nil
		}
	}
	return -1, fmt.Errorf("testbed: %s: no member leads (%s)", c.Name, strings.Join(errs, "; "))
}

func isLeader(ctx context.Context, c *Cluster, h *Host) (bool, error) {
	if c.API == "v3" {
		cli, err := c.client()
		if err != nil {
			return false, err
		}
		st, err := cli.Status(ctx, h.ClientURL)
		if err != nil {
			return false, err
		}
		return st.Header.MemberId == st.Leader, nil
	}
	body, status, err := httpGet(ctx, c.http(), h.ClientURL+"/v2/stats/self")
	if err != nil {
		return false, err
	}
	if status != http.StatusOK {
		return false, fmt.Errorf("/v2/stats/self: status %d", status)
	}
	var s struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return false, err
	}
	return s.State == "StateLeader", nil
}
