package steps

// Kinds is the one list of actions etcdplay knows. Add an action here and
// in its own file; nowhere else.
func Kinds() []Kind {
	return []Kind{
		{"health", func() Action { return &Health{} }},
		{"assert-version", func() Action { return &AssertVersion{} }},
		{"check", func() Action { return &Check{} }},
		{"refuse-options", func() Action { return &RefuseOptions{} }},
		{"check-v2store", func() Action { return &CheckV2Store{} }},
		{"check-v2-wal", func() Action { return &CheckV2WAL{} }},
		{"backup", func() Action { return &Backup{} }},
		{"move-leader", func() Action { return &MoveLeader{} }},
		{"ssh-stop", func() Action { return &SSHStop{} }},
		{"swap", func() Action { return &Swap{} }},
		{"ssh-start", func() Action { return &SSHStart{} }},
		{"wait", func() Action { return &Wait{} }},
		{"confirm", func() Action { return &Confirm{} }},
		{"ssh-run", func() Action { return &SSHRun{} }},
		{"downgrade", func() Action { return &Downgrade{} }},
	}
}
