package etcdprobe

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"
)

// TestProbeAuth: with auth enabled (root user, AuthEnable) and a probe
// that has no credentials, the probe must still see every member, call
// the cluster healthy (a denied Get is an answer) and report auth on.
func TestProbeAuth(t *testing.T) {
	for _, role := range []string{"2.3", "3.4", "3.5", "3.6"} {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			bed := startBed(t, role)
			p := newProber(t, bed)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if c := probe(t, p); c.AuthEnabled {
				t.Fatalf("auth enabled before enabling it")
			}
			if bed.API == APIv3 {
				cli, err := bed.Client()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := cli.UserAdd(ctx, "root", "secret"); err != nil {
					t.Fatal(err)
				}
				if _, err := cli.UserGrantRole(ctx, "root", "root"); err != nil {
					t.Fatal(err)
				}
				if _, err := cli.AuthEnable(ctx); err != nil {
					t.Fatal(err)
				}
			} else {
				put := func(path, body string) {
					req, _ := http.NewRequestWithContext(ctx, http.MethodPut, bed.Hosts[0].ClientURL+path, bytes.NewBufferString(body))
					req.Header.Set("Content-Type", "application/json")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode/100 != 2 {
						t.Fatalf("PUT %s: %s", path, resp.Status)
					}
				}
				put("/v2/auth/users/root", `{"user":"root","password":"secret"}`)
				put("/v2/auth/enable", "")
			}
			t.Log("auth enabled; probing without credentials")
			c := probe(t, p)
			if !c.AuthEnabled {
				t.Errorf("auth not detected")
			}
			if !c.Healthy || c.Leader == "" {
				t.Errorf("healthy %v leader %q, want healthy with a leader", c.Healthy, c.Leader)
			}
			for i, m := range c.Members {
				if !m.Reachable || !m.Healthy || m.Server != bed.Version || m.Error != "" {
					t.Errorf("%s: reachable %v healthy %v server %q error %q health error %q", m.Name, m.Reachable, m.Healthy, m.Server, m.Error, m.HealthError)
				}
				if m.Name != bed.Hosts[i].Name || m.ID == 0 || m.RaftIndex == 0 || m.RaftAppliedIndex == 0 || (bed.API == APIv3 && m.DBSize == 0) {
					t.Errorf("%s: id %s raft index %d applied %d db size %d: want all set", m.Name, m.ID, m.RaftIndex, m.RaftAppliedIndex, m.DBSize)
				}
			}
			if bed.API == APIv2 {
				return
			}
			t.Log("the same with root's credentials: Status answers, auth still detected")
			var eps []Endpoint
			for _, h := range bed.Hosts {
				eps = append(eps, Endpoint{Name: h.Name, URL: h.ClientURL})
			}
			rp, err := New(eps, Options{Username: "root", Password: "secret"})
			if err != nil {
				t.Fatal(err)
			}
			defer rp.Close()
			c = probe(t, rp)
			if !c.AuthEnabled || !c.Healthy || c.Leader == "" || c.LeaderMember().RaftTerm == 0 {
				t.Errorf("with credentials: auth %v healthy %v leader %q: %+v", c.AuthEnabled, c.Healthy, c.Leader, c.Members)
			}
		})
	}
}
