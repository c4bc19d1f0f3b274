package report

import (
	"encoding/json"
	"time"

	"github.com/etcdplay/etcdplay/runner/events"
)

// The JSON view: times in UTC with milliseconds, durations in whole
// milliseconds (like the event stream), field order fixed by these
// structs. Only append fields: scripts read this.

type jsonReport struct {
	RunID    string         `json:"run_id"`
	Cluster  string         `json:"cluster,omitempty"`
	Playbook string         `json:"playbook,omitempty"`
	Started  string         `json:"started,omitempty"`
	Finished string         `json:"finished,omitempty"`
	Result   string         `json:"result"`
	Message  string         `json:"message,omitempty"`
	Totals   jsonTotals     `json:"totals"`
	Members  []jsonMember   `json:"members"`
	Steps    []jsonEntry    `json:"steps"`
	Backup   map[string]any `json:"backup,omitempty"`
	Journal  string         `json:"journal,omitempty"`
}

type jsonTotals struct {
	TotalMS     int64 `json:"total_ms"`
	EtcdStopMS  int64 `json:"etcd_stop_ms"`
	EtcdStartMS int64 `json:"etcd_start_ms"`
	WaitsMS     int64 `json:"waits_ms"`
	OverheadMS  int64 `json:"overhead_ms"`
}

type jsonMember struct {
	Name          string      `json:"name"`
	VersionBefore string      `json:"version_before,omitempty"`
	VersionAfter  string      `json:"version_after,omitempty"`
	State         string      `json:"state"`
	Timeline      []jsonEntry `json:"timeline"`
}

type jsonEntry struct {
	Phase      events.Phase `json:"phase,omitempty"`
	Index      int          `json:"index,omitempty"`
	Steps      int          `json:"steps,omitempty"`
	Name       string       `json:"name,omitempty"`
	Action     string       `json:"action,omitempty"`
	Start      string       `json:"start,omitempty"`
	DurationMS int64        `json:"duration_ms"`
	Outcome    string       `json:"outcome"`
	Message    string       `json:"message,omitempty"`
}

const jsonTime = "2006-01-02T15:04:05.000Z07:00"

func jsonTimeOf(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(jsonTime)
}

func jsonEntries(es []Entry) []jsonEntry {
	out := make([]jsonEntry, 0, len(es))
	for _, e := range es {
		out = append(out, jsonEntry{Phase: e.Phase, Index: e.Index, Steps: e.Steps, Name: e.Name,
			Action: e.Action, Start: jsonTimeOf(e.Start), DurationMS: e.Duration.Milliseconds(),
			Outcome: e.Outcome, Message: e.Message})
	}
	return out
}

// JSON renders r as indented JSON with a final newline.
func (r *Report) JSON() ([]byte, error) {
	j := jsonReport{
		RunID: r.RunID, Cluster: r.Cluster, Playbook: r.Playbook,
		Started: jsonTimeOf(r.Started), Finished: jsonTimeOf(r.Finished),
		Result: r.Result, Message: r.Message,
		Totals: jsonTotals{
			TotalMS: r.Totals.Total.Milliseconds(), EtcdStopMS: r.Totals.EtcdStop.Milliseconds(),
			EtcdStartMS: r.Totals.EtcdStart.Milliseconds(), WaitsMS: r.Totals.Waits.Milliseconds(),
			OverheadMS: r.Totals.Overhead.Milliseconds(),
		},
		Members: []jsonMember{},
		Steps:   jsonEntries(r.Steps),
		Backup:  r.Backup, Journal: r.Journal,
	}
	for _, m := range r.Members {
		j.Members = append(j.Members, jsonMember{Name: m.Name, VersionBefore: m.VersionBefore,
			VersionAfter: m.VersionAfter, State: m.State, Timeline: jsonEntries(m.Timeline)})
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
