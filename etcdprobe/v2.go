package etcdprobe

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// probeV2 asks one 2.x member over HTTP: /version, /v2/stats/self (who it
// is, who leads), /health, GET /v2/keys/ (raft and store index headers),
// /v2/members and /v2/auth/enable.
//
// What v2 cannot tell, and what is reported instead:
//   - no applied index: RaftAppliedIndex = RaftIndex (X-Raft-Index, the
//     member's commit index);
//   - no backend size over HTTP: DBSize = 0 (the runner may measure the
//     member's data dir over SSH);
//   - no cluster version on 2.0: assemble derives "2.0.0" when every
//     reachable member runs 2.0.x;
//   - no alarms.
func (p *Prober) probeV2(ctx context.Context, ep Endpoint) memberProbe {
	var pr memberProbe
	m := &pr.m
	v, err := p.versions(ctx, ep)
	if err != nil {
		m.Error = p.memberErr(ep, "GET /version", err)
		if isConnError(err) {
			return pr
		}
	}
	m.Server, m.ClusterVersion = v.Server, v.Cluster
	m.Reachable = true

	var self struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		State      string `json:"state"`
		LeaderInfo struct {
			Leader string `json:"leader"`
		} `json:"leaderInfo"`
	}
	if err := p.getJSON(ctx, ep, "/v2/stats/self", &self); err != nil {
		m.Error = joinErr(m.Error, p.memberErr(ep, "GET /v2/stats/self", err))
	} else {
		m.ID = parseHexID(self.ID)
		m.LeaderID = parseHexID(self.LeaderInfo.Leader)
		m.IsLeader = self.State == "StateLeader"
	}

	// /health: {"health": "true"} with 200 when the member has a leader and
	// raft makes progress; 503 {"health": "false"} otherwise.
	var h struct {
		Health string `json:"health"`
	}
	if err := p.getJSON(ctx, ep, "/health", &h); err != nil {
		m.HealthError = fmt.Sprintf("GET /health: %v", err)
	} else if h.Health != "true" {
		m.HealthError = fmt.Sprintf("GET /health: health %q", h.Health)
	} else {
		m.Healthy = true
	}

	// The raft index rides on every keys response. "/v2/keys/" lists the
	// root directory (cheap on the small stores 2.x holds); an error answer
	// (auth, 404) carries the headers too.
	if _, hdr, err := p.get(ctx, ep, "/v2/keys/?quorum=false"); hdr != nil {
		m.RaftIndex = parseUint(hdr.Get("X-Raft-Index"))
		m.RaftTerm = parseUint(hdr.Get("X-Raft-Term"))
		m.Revision = int64(parseUint(hdr.Get("X-Etcd-Index")))
		m.RaftAppliedIndex = m.RaftIndex
		pr.clusterID = parseHexID(hdr.Get("X-Etcd-Cluster-Id"))
	} else if err != nil {
		m.Error = joinErr(m.Error, p.memberErr(ep, "GET /v2/keys/", err))
	}

	var members struct {
		Members []struct {
			ID         string   `json:"id"`
			Name       string   `json:"name"`
			ClientURLs []string `json:"clientURLs"`
		} `json:"members"`
	}
	if err := p.getJSON(ctx, ep, "/v2/members", &members); err == nil {
		pr.list = []listedMember{}
		for _, lm := range members.Members {
			pr.list = append(pr.list, listedMember{ID: parseHexID(lm.ID), Name: lm.Name, ClientURLs: lm.ClientURLs})
		}
	}

	// Auth came in 2.1; 2.0 answers 404 here, which reads as "off".
	if !is20(m.Server) {
		var a struct {
			Enabled bool `json:"enabled"`
		}
		if err := p.getJSON(ctx, ep, "/v2/auth/enable", &a); err == nil {
			pr.auth = a.Enabled
		}
	}
	return pr
}

// getJSON GETs path and decodes its JSON body.
func (p *Prober) getJSON(ctx context.Context, ep Endpoint, path string, v any) error {
	body, _, err := p.get(ctx, ep, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode %q: %w", clip(body), err)
	}
	return nil
}

func parseHexID(s string) ID {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 16, 64)
	if err != nil {
		return 0
	}
	return ID(v)
}

func parseUint(s string) uint64 {
	v, _ := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	return v
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
