package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/etcdprobe"
)

// Names and errors in the status table come from the cluster; an escape
// sequence in a member's name must reach the terminal as text, not act.
func TestStatusTableFiltersControlCharacters(t *testing.T) {
	c := &etcdprobe.Cluster{API: "v3", Members: []etcdprobe.Member{
		{Name: "evil\x1b]0;owned\x07", Error: "member evil\x1b[2J is in the member list but not in the inventory"},
		{Name: "infra0", Endpoint: "infra0", Reachable: true, Healthy: true, Server: "3.5.35\x1b[31m"},
	}, Leader: "infra0\x1b[1m"}
	var b bytes.Buffer
	if err := writeStatusTable(&b, c, map[string]string{"infra0": "10.0.0.10"}); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(b.String(), "\x1b\x07") {
		t.Errorf("control characters reached the table:\n%q", b.String())
	}
	if !strings.Contains(b.String(), "evil?]0;owned?") {
		t.Errorf("the name is not shown as text:\n%s", b.String())
	}
}
