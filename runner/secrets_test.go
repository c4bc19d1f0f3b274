package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/log"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/events/redact"
)

// secretForms is the corpus of docs/safety.md invariant 8: each entry is
// text an operator or a playbook author may write, and the secret in it
// (unique, so its absence proves this form was redacted).
var secretForms = []struct{ text, secret string }{
	{"NAME_PASSWORD=Zq01secret", "Zq01secret"},
	{"ETCDCTL_PASSWORD=Zq02secret etcdctl get /", "Zq02secret"},
	{"etcdctl --password=Zq03secret get /", "Zq03secret"},
	{"etcdctl --password Zq04secret get /", "Zq04secret"},
	{"etcdctl --password 'Zq05 secret' get /", "Zq05"},
	{`etcdctl --password="Zq06 secret" get /`, "Zq06"},
	{"curl http://admin:Zq07secret@10.0.0.1:2379/health", "Zq07secret"},
	{"https://root:Zq08secret@10.0.0.1/v2/keys", "Zq08secret"},
	{"curl -u admin:Zq09secret http://x", "Zq09secret"},
	{"curl --user admin:Zq10secret http://x", "Zq10secret"},
	{"curl -H 'Authorization: Bearer Zq11secret' http://x", "Zq11secret"},
	{"Authorization: Basic Zq12secret", "Zq12secret"},
	{"got bearer Zq13secret from the vault", "Zq13secret"},
	{`db_password="Zq14secret"`, "Zq14secret"},
	{`{"api_token": "Zq15secret"}`, "Zq15secret"},
	{"client_secret: Zq16secret", "Zq16secret"},
	{"-----BEGIN PRIVATE KEY-----\nZq17secret\n-----END PRIVATE KEY-----", "Zq17secret"},
	{"etcd --token=Zq18secret", "Zq18secret"},
	{"export AWS_SECRET_ACCESS_KEY=Zq19secret", "Zq19secret"},
	{`vars.db_password == "Zq20secret"`, "Zq20secret"},
	{"etcdctl --user root:Zq21secret get /", "Zq21secret"},
	{"mysql://app:Zq22secret@db:3306/x", "Zq22secret"},
	{"X-Auth-Token: Zq23secret", "Zq23secret"},
	{"openssl --passphrase=Zq24secret", "Zq24secret"},
	{"the vault said Zq25known", "Zq25known"}, // a secret var's value, wherever it shows
	{"apiKey=Zq26secret", "Zq26secret"},
}

// TestNoSecretInAnyOutput: every form of the corpus goes into step names
// (plan, events, journal, report), a failing step's message (error,
// journal, events, report) and a skipped guard over a secret var; none of
// the secrets may appear in the plan (text and JSON), the events (JSON
// lines and human), the journal, events.jsonl, report.md/report.json or
// the error the run returns as the CLI prints it.
func TestNoSecretInAnyOutput(t *testing.T) {
	var names, all strings.Builder
	for i, f := range secretForms {
		q, _ := json.Marshal(f.text)
		fmt.Fprintf(&names, "    - name: %s\n      noop: {}\n", q)
		if i > 0 {
			all.WriteString(" | ")
		}
		all.WriteString(f.text)
	}
	msg, _ := json.Marshal(all.String())
	pb := strings.Replace(fakePlaybook, "members:\n  order: leader-last\n  steps:\n",
		"vars: {db_password: Zq25known, mode: fast}\nmembers:\n  order: leader-last\n  steps:\n"+names.String()+
			"    - name: skipped on a secret\n      when: 'vars.db_password == \"Zq20secret\"'\n      noop: {}\n", 1)
	pb = strings.Replace(pb, "    - start: {}\n", "    - start: {}\n    - fail: {msg: "+string(msg)+"}\n", 1)

	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, pb, fc)
	var jsonOut, humanOut bytes.Buffer
	h.o.Sink = events.Multi(h.rec, events.NewJSON(&jsonOut), events.NewHuman(events.NewLogger(&humanOut, log.DebugLevel)))
	_, runErr := Apply(context.Background(), h.o)
	if runErr == nil {
		t.Fatal("the failing step did not fail the run")
	}

	plan, err := PlanOffline(h.o.Playbook, h.o.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	var planText, planJSON bytes.Buffer
	if err := WritePlanText(&planText, plan); err != nil {
		t.Fatal(err)
	}
	if err := WritePlanJSON(&planJSON, plan); err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"plan text":    planText.String(),
		"plan json":    planJSON.String(),
		"events json":  jsonOut.String(),
		"events human": humanOut.String(),
		"error":        redact.String(runErr.Error()),
	}
	for _, f := range []string{"journal.jsonl", EventsFile, "report.md", "report.json"} {
		b, err := os.ReadFile(filepath.Join(h.o.StateDir, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		outputs[f] = string(b)
	}
	// The outputs did receive the forms (else the test proves nothing).
	for _, where := range []string{"plan text", "journal.jsonl", "report.md", "events json"} {
		if !strings.Contains(outputs[where], "etcdctl --password=") {
			t.Errorf("%s never received the corpus", where)
		}
	}
	for _, f := range secretForms {
		for where, out := range outputs {
			if strings.Contains(out, f.secret) {
				t.Errorf("%s shows the secret of %q", where, f.text)
			}
		}
	}
}
