package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/schema"
)

var t0 = time.Date(2026, 11, 21, 6, 12, 0, 0, time.UTC)

const pemKey = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"

func TestJSONLineIsStableAndOrdered(t *testing.T) {
	var buf bytes.Buffer
	s := NewJSON(&buf)
	s.Emit(Event{
		Time: t0.Add(1500 * time.Millisecond), RunID: "r1", Kind: StepDone, Phase: schema.PhaseMembers,
		Member: "infra0", StepIndex: 2, Steps: 8, StepName: "ssh-stop", Action: "ssh-stop",
		Duration: 1234 * time.Millisecond,
		Fields:   map[string]any{"z": 1, "a": "x", "password": "hunter2"},
	})
	s.Emit(Event{Time: t0, Kind: RunStart, RunID: "r1"})
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-11-21T06:12:01.500Z","run_id":"r1","kind":"step-done","phase":"members","member":"infra0","step_index":2,"steps":8,"step_name":"ssh-stop","action":"ssh-stop","duration_ms":1234,"fields":{"a":"x","password":"[redacted]","z":1}}
{"time":"2026-11-21T06:12:00.000Z","run_id":"r1","kind":"run-start"}
`
	if buf.String() != want {
		t.Errorf("JSON lines:\n got %s\nwant %s", buf.String(), want)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	in := Event{
		Time: t0, RunID: "r1", Kind: StepFailed, Phase: schema.PhaseRollback, Member: "infra2",
		StepIndex: 3, Steps: 4, StepName: "start", Action: "ssh-start", Message: "exit 1",
		Duration: 2 * time.Second, Fields: map[string]any{"exit": 1.0},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Event
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !out.Time.Equal(in.Time) {
		t.Errorf("time %v, want %v", out.Time, in.Time)
	}
	out.Time = in.Time
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errClosed
}

var errClosed = errors.New("closed pipe")

func TestJSONKeepsFirstErrorAndStops(t *testing.T) {
	w := &failWriter{}
	s := NewJSON(w)
	s.Emit(Event{Kind: Warn})
	s.Emit(Event{Kind: Warn})
	if s.Err() != errClosed || w.n != 1 {
		t.Errorf("err %v after %d writes; want the first error and no write after it", s.Err(), w.n)
	}
}

// Every sink redacts: a secret handed to the runner's events never reaches
// any output (invariant 8 in docs/safety.md).
func TestEverySinkRedacts(t *testing.T) {
	secretEvent := Event{
		Time: t0, Kind: StepFailed, Member: "infra0", StepIndex: 1, Action: "ssh-run",
		Message: "etcdctl --password=hunter2 failed; got " + pemKey,
		Fields:  map[string]any{"tls_key": "hunter2", "output": pemKey, "token": "hunter2"},
	}
	var jsonBuf, humanBuf bytes.Buffer
	rec := &Recorder{}
	sink := Multi(NewJSON(&jsonBuf), NewHuman(NewLogger(&humanBuf, 0)), rec, nil)
	sink.Emit(secretEvent)

	recorded, _ := json.Marshal(rec.Events())
	for name, out := range map[string]string{
		"json": jsonBuf.String(), "human": humanBuf.String(), "recorder": string(recorded),
	} {
		if out == "" {
			t.Errorf("%s: no output", name)
		}
		for _, secret := range []string{"hunter2", "BEGIN PRIVATE", "MIIE"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s output holds %q:\n%s", name, secret, out)
			}
		}
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("%s output does not show the redaction:\n%s", name, out)
		}
	}
	if secretEvent.Fields["token"] != "hunter2" {
		t.Error("a sink modified the caller's event")
	}
}

func TestRecorderKeepsOrder(t *testing.T) {
	r := &Recorder{}
	for _, k := range []Kind{RunStart, PhaseStart, StepStart, StepDone, RunDone} {
		r.Emit(Event{Kind: k})
	}
	if got := r.Kinds(); !reflect.DeepEqual(got, []Kind{RunStart, PhaseStart, StepStart, StepDone, RunDone}) {
		t.Errorf("kinds %v", got)
	}
	if len(r.Events()) != 5 {
		t.Errorf("events %d", len(r.Events()))
	}
	Discard.Emit(Event{}) // must not panic
}

func TestJSONSurvivesAnUnencodableField(t *testing.T) {
	var buf bytes.Buffer
	s := NewJSON(&buf)
	s.Emit(Event{Time: t0, Kind: Warn, Fields: map[string]any{"f": func() {}}})
	s.Emit(Event{Time: t0, Kind: RunDone})
	if s.Err() != nil || !strings.Contains(buf.String(), `"fields_error"`) || !strings.Contains(buf.String(), `"run-done"`) {
		t.Errorf("err %v, output %s", s.Err(), buf.String())
	}
}
