// Package shell quotes words for a POSIX shell.
//
// Every value that comes from an inventory or a playbook and ends up in a
// remote command line goes through Quote or Join, so that a value such as
// "/var/lib/etcd; touch pwned" reaches the remote program as one inert
// argument instead of being run as a second command.
package shell
