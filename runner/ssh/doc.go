// Package ssh is etcdplay's SSH transport, built on golang.org/x/crypto/ssh.
//
// It aims to be as safe and as convenient as OpenSSH itself:
//
//   - Host keys are checked against known_hosts files (the user's, the ones
//     ssh_config names, and the inventory's) through x/crypto's knownhosts,
//     which understands hashed host names, @cert-authority and @revoked
//     lines. An unknown host is refused with its fingerprint and a way to
//     check it; a changed key is refused loudly, always. Config.AcceptNewHostKeys
//     behaves like StrictHostKeyChecking=accept-new.
//   - Authentication uses ssh-agent (SSH_AUTH_SOCK) first, then identity
//     files. Nothing ever prompts: an encrypted key the agent does not hold
//     is an error that says to ssh-add it.
//   - ~/.ssh/config (or the file the inventory names) supplies HostName,
//     User, Port, IdentityFile, ProxyJump and UserKnownHostsFile; explicit
//     inventory values override it.
//   - One connection per host serves every command of a run (Pool), with
//     keepalives that detect a dead peer, and one reconnect for commands that
//     had not started. A command in flight when the connection drops is
//     reported as "may or may not have run", never silently re-run.
//   - Commands are argv slices; every word is quoted with internal/shell.
//     Command.Script is the one escape hatch, for text a playbook author
//     wrote (reviewed code), never for inventory values.
//   - A cancelled context kills the remote command and all its children:
//     the command runs under a small sh wrapper that kills its process group
//     when the session's stdin reaches EOF, which happens as soon as the
//     session closes, so this works even where sshd ignores "signal" requests.
//
// Not supported (refused or ignored, never guessed): password and
// keyboard-interactive authentication, ProxyCommand, Match blocks that need
// exec, HostKeyAlias, CheckHostIP, the system-wide /etc/ssh/ssh_config, and
// login shells that are not POSIX (csh, fish): commands are sent as POSIX sh.
package ssh
