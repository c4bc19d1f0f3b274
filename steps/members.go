package steps

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/etcdplay/etcdplay/schema"
)

// targets are the members a step acts on: env.Member in per-member phases,
// else every member in inventory order.
func targets(env *Env) ([]schema.MemberConfig, error) {
	if env.Member != nil {
		return []schema.MemberConfig{*env.Member}, nil
	}
	if env.Inventory == nil {
		return nil, errors.New("no inventory to name the members")
	}
	out := make([]schema.MemberConfig, 0, len(env.Inventory.Members))
	for _, m := range env.Inventory.Members {
		out = append(out, env.Inventory.Resolve(m))
	}
	return out, nil
}

// eachMember runs check for every member side by side, since each reads
// only its own host (the preflight checks of etcdutl and the WAL cost what
// the slowest host takes, not the sum: docs/performance.md). It returns
// the outcomes in the members' order, or the first error in that order.
func eachMember[T any](members []schema.MemberConfig, check func(m *schema.MemberConfig) (T, error)) ([]T, error) {
	out := make([]T, len(members))
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = check(&members[i])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// needMember is the member of a per-member step, or an error saying the
// step was placed where there is none.
func needMember(env *Env, kind string) (*schema.MemberConfig, error) {
	if env.Member == nil {
		return nil, errors.New(kind + " acts on one member, but this phase has none")
	}
	return env.Member, nil
}

func (env *Env) info(msg string, kv ...any) {
	if env.Log != nil {
		env.Log.Info(msg, kv...)
	}
}

func (env *Env) warn(msg string, kv ...any) {
	if env.Log != nil {
		env.Log.Warn(msg, kv...)
	}
}

func (env *Env) record(key string, v any) {
	if env.Record != nil {
		env.Record(key, v)
	}
}

// recordBackup hands a verified backup's manifest to the runner; see
// Env.RecordBackup.
func (env *Env) recordBackup(m *BackupManifest) error {
	if env.RecordBackup == nil {
		return nil
	}
	if err := env.RecordBackup(*m); err != nil {
		return fmt.Errorf("backup %s is taken and verified, but the run could not record it: %w", m.File, err)
	}
	return nil
}

func (env *Env) api() string {
	if env.Inventory == nil || env.Inventory.API == "" {
		return "v3"
	}
	return env.Inventory.API
}

// now is env's clock, or the wall clock.
func now(env *Env) time.Time {
	if env.Now != nil {
		return env.Now()
	}
	return time.Now()
}
