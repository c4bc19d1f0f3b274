package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/playbooks"
	"github.com/etcdplay/etcdplay/runner/events/redact"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// readSource reads a file, or a shipped playbook when arg names one
// ("3.4-to-3.5") and no such file exists. It returns the source and the
// name messages use for it.
func readSource(arg string) ([]byte, string, error) {
	src, err := os.ReadFile(arg)
	if err == nil {
		return src, arg, nil
	}
	if errors.Is(err, fs.ErrNotExist) && !strings.ContainsRune(arg, os.PathSeparator) {
		if src, name, perr := playbooks.Read(arg); perr == nil {
			return src, name, nil
		}
		return nil, "", usageErr(fmt.Errorf("%s: no such file or shipped playbook", arg), "etcdplay list shows the shipped playbooks")
	}
	return nil, "", usageErr(fmt.Errorf("read %s: %w", arg, errors.Unwrap(err)), "")
}

func loadPlaybook(arg string) (*schema.Playbook, error) {
	src, name, err := readSource(arg)
	if err != nil {
		return nil, err
	}
	return schema.LoadPlaybook(name, src, steps.Default())
}

func loadInventory(arg string) (*schema.Inventory, error) {
	src, err := os.ReadFile(arg)
	if err != nil {
		return nil, usageErr(fmt.Errorf("read inventory %s: %w", arg, errors.Unwrap(err)), "")
	}
	return schema.LoadInventory(arg, src)
}

// invalid prints every problem of list to w and returns the exit-3 error
// that summarises them.
func invalid(w io.Writer, err error) error {
	var list schema.ErrorList
	if !errors.As(err, &list) {
		return exit.New(exit.Invalid, err, "")
	}
	// The excerpts quote the operator's file, which may hold a secret
	// (a password in a URL): the same redaction as every other output.
	io.WriteString(w, redact.String(list.Format()))
	return &exit.Error{Code: exit.Invalid, Err: fmt.Errorf("%s", countProblems(list))}
}

func countProblems(list schema.ErrorList) string {
	files := map[string]bool{}
	for _, e := range list {
		files[e.File] = true
	}
	return fmt.Sprintf("%s in %s", plural(len(list), "problem"), plural(len(files), "file"))
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// joinLists merges the ErrorLists of several loads into one sorted list.
func joinLists(errs ...error) error {
	var all schema.ErrorList
	for _, err := range errs {
		var list schema.ErrorList
		if errors.As(err, &list) {
			all = append(all, list...)
		} else if err != nil {
			return err
		}
	}
	all.Sort()
	return all
}
