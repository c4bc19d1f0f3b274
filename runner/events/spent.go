package events

import "time"

// Spent is what a step's (or a gate's) time counts as in the run report, so
// the report can say honestly where an upgrade's time went and leave as
// "runner overhead" only the runner's own time (docs/performance.md).
type Spent string

const (
	SpentEtcdStop  Spent = "etcd-stop"  // ssh-stop: etcd shutting down
	SpentEtcdStart Spent = "etcd-start" // ssh-start
	// SpentCatchUp: waiting for a restarted member to be healthy and caught
	// up (wait for healthy, caught-up or a cluster version; the
	// post-member gate).
	SpentCatchUp Spent = "catch-up"
	SpentLeader  Spent = "leader"   // move-leader: the hand-off and its settling
	SpentWait    Spent = "wait"     // a fixed pause the playbook asks for (wait duration)
	SpentStaging Spent = "transfer" // putting a release on a host before anything stops
	SpentSwap    Spent = "swap"     // installing the binary while the member is down
	SpentBackup  Spent = "backup"
	SpentCheck   Spent = "check"    // health, assert-version, check, ssh-run, the stop gate
	SpentHuman   Spent = "operator" // confirm: waiting for a person
)

// SpentOf is what an event's time counts as; events written before the
// runner labelled them are classified by action.
func SpentOf(e Event) Spent {
	if e.Spent != "" {
		return e.Spent
	}
	switch e.Action {
	case "ssh-stop":
		return SpentEtcdStop
	case "ssh-start":
		return SpentEtcdStart
	case "wait":
		return SpentCatchUp
	}
	return ""
}

// Downtime follows one member's events and measures how long it was down:
// its stop starts the clock, and after its start the first catch-up wait or
// gate that passes stops it. The report and the progress view both read it
// here, so they agree.
type Downtime struct {
	stopped time.Time
	started bool
	took    time.Duration
}

// See takes the member's next event.
func (d *Downtime) See(e Event) {
	sp := SpentOf(e)
	switch {
	case e.Kind == StepStart && sp == SpentEtcdStop && d.stopped.IsZero():
		d.stopped = e.Time
	case d.stopped.IsZero():
	case e.Kind == StepDone && sp == SpentEtcdStart:
		d.started = true
	case d.started && d.took == 0 && sp == SpentCatchUp && (e.Kind == StepDone || e.Kind == Gate):
		d.took = e.Time.Sub(d.stopped)
	}
}

// Took is the downtime, or 0 while the member has not come back (or never
// stopped).
func (d *Downtime) Took() time.Duration { return d.took }
