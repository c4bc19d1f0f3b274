package etcdprobe

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// When auth is on and the probe has no credentials, etcd 3.5.x (recent
// patches) and 3.6+ refuse Status and AlarmList ("user name is empty").
// The member still answers /version, /health (which checks leader, a
// range through raft as root, and alarms) and /metrics without auth, and
// those say nearly everything Status would. Only the raft term and the
// leader ID seen by a follower are lost.

// metricsView is what /metrics tells about one member.
type metricsView struct {
	ID          ID
	IsLeader    bool
	HasLeader   bool
	IsLearner   bool
	DBSize      int64
	DBSizeInUse int64
	Committed   uint64
	Applied     uint64
	Revision    int64
}

// metrics reads the few series it needs from GET /metrics.
func (p *Prober) metrics(ctx context.Context, ep Endpoint) (metricsView, error) {
	var v metricsView
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.URL+"/metrics", nil)
	if err != nil {
		return v, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := readLimited(resp.Body, 512)
		return v, &httpStatusError{Code: resp.StatusCode, Body: clip(body)}
	}
	return parseMetrics(io.LimitReader(resp.Body, 16<<20))
}

// parseMetrics reads Prometheus text exposition, keeping only the series
// the probe uses.
func parseMetrics(r io.Reader) (metricsView, error) {
	var v metricsView
	seen := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "etcd_") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		series, val := line[:sp], line[sp+1:]
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		name, labels := series, ""
		if i := strings.IndexByte(series, '{'); i >= 0 {
			name, labels = series[:i], series[i:]
		}
		seen = true
		switch name {
		case "etcd_server_id":
			if f == 1 {
				v.ID = parseHexID(labelValue(labels, "server_id"))
			}
		case "etcd_server_is_leader":
			v.IsLeader = f == 1
		case "etcd_server_has_leader":
			v.HasLeader = f == 1
		case "etcd_server_is_learner":
			v.IsLearner = f == 1
		case "etcd_mvcc_db_total_size_in_bytes":
			v.DBSize = int64(f)
		case "etcd_mvcc_db_total_size_in_use_in_bytes":
			v.DBSizeInUse = int64(f)
		case "etcd_server_proposals_committed_total":
			v.Committed = uint64(f)
		case "etcd_server_proposals_applied_total":
			v.Applied = uint64(f)
		case "etcd_debugging_mvcc_current_revision":
			v.Revision = int64(f)
		}
	}
	if err := sc.Err(); err != nil {
		return v, fmt.Errorf("read /metrics: %w", err)
	}
	if !seen {
		return v, fmt.Errorf("read /metrics: no etcd series")
	}
	return v, nil
}

// labelValue picks one label's value out of `{a="x",b="y"}`.
func labelValue(labels, key string) string {
	_, rest, ok := strings.Cut(labels, key+`="`)
	if !ok {
		return ""
	}
	if v, _, ok := strings.Cut(rest, `"`); ok {
		return v
	}
	return ""
}

// healthHTTP reads /health: {"health":"true"} (3.5+ adds "reason", e.g.
// "ALARM NOSPACE"). 503 comes with a body too.
func (p *Prober) healthHTTP(ctx context.Context, ep Endpoint) (ok bool, reason string, err error) {
	body, _, err := p.get(ctx, ep, "/health")
	var se *httpStatusError
	if err != nil && !errors.As(err, &se) {
		return false, "", err
	}
	var h struct {
		Health string `json:"health"`
		Reason string `json:"reason"`
	}
	if jerr := json.Unmarshal(body, &h); jerr != nil {
		if err != nil {
			return false, "", err
		}
		return false, "", jerr
	}
	return h.Health == "true", h.Reason, nil
}
