package testbed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// A cluster with etcd's v3 authentication on (Options.Auth): after the
// members are up, the bed adds the user root with a random password and
// the root role, and enables auth. The password is written to a file only
// root can read, as an operator would keep it, so tests hand etcdplay the
// file, never the secret itself. Every v3 client of the bed then logs in
// as root.

// AuthInfo is a cluster's etcd login.
type AuthInfo struct {
	User         string // root
	Password     string
	PasswordFile string // <run folder>/auth/root.password, 0600, no newline
}

// enableAuth turns authentication on. It runs once the cluster is
// healthy, with a client that has no credentials yet (auth is off).
func (c *Cluster) enableAuth(ctx context.Context) error {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	a := &AuthInfo{User: "root", Password: hex.EncodeToString(b), PasswordFile: filepath.Join(c.Dir, "auth", "root.password")}
	if err := os.MkdirAll(filepath.Dir(a.PasswordFile), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(a.PasswordFile, []byte(a.Password), 0o600); err != nil {
		return err
	}
	cli, err := c.newV3Client(c.Endpoints())
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := cli.UserAdd(ctx, a.User, a.Password); err != nil {
		return fmt.Errorf("auth: add user root: %w", err)
	}
	if _, err := cli.UserGrantRole(ctx, a.User, "root"); err != nil {
		return fmt.Errorf("auth: grant root the root role: %w", err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		return fmt.Errorf("auth: enable: %w", err)
	}
	c.Auth = a
	return nil
}
