package report

import (
	"encoding/json"
	"time"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// The JSON view: times in UTC with milliseconds, durations in whole
// milliseconds (like the event stream), field order fixed by these
// structs. Only append fields: scripts read this.

type jsonReport struct {
	RunID    string       `json:"run_id"`
	Cluster  string       `json:"cluster,omitempty"`
	Playbook string       `json:"playbook,omitempty"`
	Started  string       `json:"started,omitempty"`
	Finished string       `json:"finished,omitempty"`
	Result   string       `json:"result"`
	Message  string       `json:"message,omitempty"`
	Totals   jsonTotals   `json:"totals"`
	Members  []jsonMember `json:"members"`
	Steps    []jsonEntry  `json:"steps"`
	// Backup is the last backup the run took (the only one on v3), kept
	// for scripts that read it; Backups lists every one.
	Backup  *steps.BackupManifest  `json:"backup,omitempty"`
	Journal string                 `json:"journal,omitempty"`
	Backups []steps.BackupManifest `json:"backups,omitempty"`
	Restore *Restore               `json:"restore,omitempty"`
}

// jsonTotals: waits_ms is every wait for the cluster (catch-up and
// configured); overhead_ms is the runner's own time only.
type jsonTotals struct {
	TotalMS          int64 `json:"total_ms"`
	EtcdStopMS       int64 `json:"etcd_stop_ms"`
	EtcdStartMS      int64 `json:"etcd_start_ms"`
	WaitsMS          int64 `json:"waits_ms"`
	OverheadMS       int64 `json:"overhead_ms"`
	CatchUpMS        int64 `json:"catch_up_ms"`
	ConfiguredWaitMS int64 `json:"configured_wait_ms"`
	LeaderMS         int64 `json:"leader_handoff_ms"`
	TransferMS       int64 `json:"transfer_ms"`
	SwapMS           int64 `json:"swap_ms"`
	BackupMS         int64 `json:"backup_ms"`
	CheckMS          int64 `json:"check_ms"`
	OperatorMS       int64 `json:"operator_ms"`
	DowntimeMS       int64 `json:"downtime_ms"`
}

type jsonMember struct {
	Name          string      `json:"name"`
	VersionBefore string      `json:"version_before,omitempty"`
	VersionAfter  string      `json:"version_after,omitempty"`
	State         string      `json:"state"`
	Timeline      []jsonEntry `json:"timeline"`
	DowntimeMS    int64       `json:"downtime_ms"`
}

type jsonEntry struct {
	Phase      schema.Phase `json:"phase,omitempty"`
	Index      int          `json:"index,omitempty"`
	Steps      int          `json:"steps,omitempty"`
	Name       string       `json:"name,omitempty"`
	Action     string       `json:"action,omitempty"`
	Start      string       `json:"start,omitempty"`
	DurationMS int64        `json:"duration_ms"`
	Outcome    string       `json:"outcome"`
	Message    string       `json:"message,omitempty"`
	Spent      events.Spent `json:"spent,omitempty"`
	Hop        int          `json:"hop,omitempty"`
}

func ms(t Totals, s events.Spent) int64 { return t.Of(s).Milliseconds() }

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
			Outcome: e.Outcome, Message: e.Message, Spent: e.Spent, Hop: e.Hop})
	}
	return out
}

// JSON renders r as indented JSON with a final newline.
func (r *Report) JSON() ([]byte, error) {
	t := r.Totals
	j := jsonReport{
		RunID: r.RunID, Cluster: r.Cluster, Playbook: r.Playbook,
		Started: jsonTimeOf(r.Started), Finished: jsonTimeOf(r.Finished),
		Result: r.Result, Message: r.Message, Restore: r.Restore,
		Totals: jsonTotals{
			TotalMS:          r.Totals.Total.Milliseconds(),
			EtcdStopMS:       ms(t, events.SpentEtcdStop),
			EtcdStartMS:      ms(t, events.SpentEtcdStart),
			WaitsMS:          ms(t, events.SpentCatchUp) + ms(t, events.SpentWait),
			OverheadMS:       r.Totals.Overhead.Milliseconds(),
			CatchUpMS:        ms(t, events.SpentCatchUp),
			ConfiguredWaitMS: ms(t, events.SpentWait),
			LeaderMS:         ms(t, events.SpentLeader),
			TransferMS:       ms(t, events.SpentStaging),
			SwapMS:           ms(t, events.SpentSwap),
			BackupMS:         ms(t, events.SpentBackup),
			CheckMS:          ms(t, events.SpentCheck),
			OperatorMS:       ms(t, events.SpentHuman),
			DowntimeMS:       r.Downtime().Milliseconds(),
		},
		Members: []jsonMember{},
		Steps:   jsonEntries(r.Steps),
		Journal: r.Journal, Backups: r.Backups,
	}
	if n := len(r.Backups); n > 0 {
		j.Backup = &r.Backups[n-1]
	}
	for _, m := range r.Members {
		j.Members = append(j.Members, jsonMember{Name: m.Name, VersionBefore: m.VersionBefore,
			VersionAfter: m.VersionAfter, State: m.State, Timeline: jsonEntries(m.Timeline),
			DowntimeMS: m.Downtime.Milliseconds()})
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
