package lock

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"time"
)

// Holder says who holds a lock. It is written as JSON next to the lock so
// a refused operator, or etcdctl, can read it.
type Holder struct {
	User    string    `json:"user"`
	Host    string    `json:"host"`
	RunID   string    `json:"run_id"`
	Started time.Time `json:"started"`
	PID     int       `json:"pid"`
}

// NewHolder describes this process running runID: the login name from
// os/user (falling back to $USER), os.Hostname, now and our pid.
func NewHolder(runID string) Holder {
	h := Holder{RunID: runID, Started: time.Now().UTC().Truncate(time.Second), PID: os.Getpid()}
	if u, err := user.Current(); err == nil && u.Username != "" {
		h.User = u.Username
	} else if name := os.Getenv("USER"); name != "" {
		h.User = name
	} else {
		h.User = "unknown"
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		h.Host = host
	} else {
		h.Host = "unknown"
	}
	return h
}

// String is "user@host".
func (h Holder) String() string { return h.User + "@" + h.Host }

// same reports whether h and o are the same run of the same process.
func (h Holder) same(o Holder) bool {
	return h.User == o.User && h.Host == o.Host && h.RunID == o.RunID && h.PID == o.PID
}

func (h Holder) marshal() string {
	b, err := json.Marshal(h)
	if err != nil { // a struct of strings, ints and a time: cannot fail
		panic(err)
	}
	return string(b)
}

// parseHolder reads a holder written by marshal; nil when b is empty or
// not a holder (a lock taken by a run that died before writing it).
func parseHolder(b []byte) *Holder {
	var h Holder
	if err := json.Unmarshal(b, &h); err != nil || (h.User == "" && h.RunID == "") {
		return nil
	}
	return &h
}

// HeldError is the refusal a second run gets. The CLI maps it to exit
// code 7.
type HeldError struct {
	Cluster string
	// Holder is who holds the lock; nil when the holder has not been
	// written yet (the other run is between taking the lock and recording
	// itself) or cannot be read.
	Holder *Holder
	// Key is where the lock is: the etcd key on v3, "host:folder" on v2.
	Key string
	// Expires is true on v3, where a dead holder's lock lapses with its
	// lease.
	Expires bool
}

func (e *HeldError) Error() string {
	who := fmt.Sprintf("cluster %s is locked (%s; holder not recorded)", e.Cluster, e.Key)
	if h := e.Holder; h != nil {
		who = fmt.Sprintf("cluster %s is locked by %s (run %s, since %s, pid %d)",
			e.Cluster, h, h.RunID, h.Started.UTC().Format("2006-01-02 15:04:05 UTC"), h.PID)
	}
	if e.Expires {
		return who + "; wait for it, or if that run is dead and its lease has not expired, use --break-lock"
	}
	return who + "; wait for it, or if that run is dead, use --break-lock (the lock is " + e.Key + ")"
}
