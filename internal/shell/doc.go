// Package shell quotes words for a POSIX shell.
//
// Every value that comes from an inventory or a playbook and ends up in a
// remote command line goes through Quote or Join, so that a value such as
// "/var/lib/etcd; touch pwned" reaches the remote program as one inert
// argument instead of being run as a second command.
//
// Quoting is about the shell only: a word that starts with "-" still reaches
// the program as an option. Put "--" before operands that come from an
// inventory (rm -f -- "$path"), as the transport does.
package shell
