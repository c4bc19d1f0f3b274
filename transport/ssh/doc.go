// Package ssh is etcdplay's SSH transport, built on golang.org/x/crypto/ssh.
//
// It aims to be as safe and as convenient as OpenSSH itself:
//
//   - Host keys are checked against known_hosts files through x/crypto's
//     knownhosts: the inventory's files, the ssh_config UserKnownHostsFile
//     ones, ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts. Hashed host
//     names (|1|...), @cert-authority (host certificates, principal and
//     validity checked by ssh.CertChecker) and @revoked lines are supported.
//     An unknown host is refused with its fingerprint and an ssh-keyscan
//     command to check it; a changed key is refused loudly, always.
//     Config.AcceptNewHostKeys behaves like StrictHostKeyChecking=accept-new
//     and appends a plain (unhashed, so reviewable) "[host]:port type key"
//     line to the first writable file, the inventory's first.
//   - Authentication uses ssh-agent (SSH_AUTH_SOCK) first, then identity
//     files: the inventory's, the ssh_config IdentityFile ones, then
//     ~/.ssh/id_ed25519, id_ecdsa, id_rsa. IdentitiesOnly is honoured.
//     Nothing ever prompts: an encrypted key the agent does not hold is an
//     EncryptedKeyError that says to ssh-add it.
//   - The ssh_config file (~/.ssh/config or the one the inventory names)
//     supplies HostName (with %h), User, Port, IdentityFile, ProxyJump,
//     UserKnownHostsFile and IdentitiesOnly; inventory values override it.
//   - ProxyJump chains of any length; every hop's host key is verified.
//   - One connection per host serves every command of a run (Pool), with
//     keepalive@openssh.com requests that detect a dead peer, and one
//     reconnect (host key verified again) for commands that had not started.
//     A command in flight when the connection drops is a
//     ConnectionLostError, "may or may not have run", never re-run.
//   - Commands are argv slices; every word is quoted with internal/shell.
//     Command.Script is the one escape hatch, for text a playbook author
//     wrote (reviewed code), never for inventory values.
//   - sudo is "sudo -n PROGRAM ARGS...", only for Command.Privileged, never
//     a shell: a sudoers rule can name each command exactly. A sudo that
//     wants a password or refuses the command is a SudoError at once.
//   - A cancelled context kills the remote command and its children, also
//     where sshd ignores "signal" requests and when the connection is lost:
//     see killSwitch.
//   - Upload streams a file through one exec session into a temporary name,
//     checks its sha256 on the host, then chmods and renames it into place.
//
// Not supported (refused or ignored, never guessed): password and
// keyboard-interactive authentication; ProxyCommand; Match criteria other
// than "all" and "host" (the parser refuses the file, the error says how to
// point ssh.config elsewhere); StrictHostKeyChecking from ssh_config (only
// the explicit flag relaxes checking); HostKeyAlias and CheckHostIP; port
// wildcards in known_hosts patterns; ssh-rsa (SHA-1) host key signatures;
// the system-wide /etc/ssh/ssh_config; login shells that are not POSIX
// (csh, fish), since commands are sent as POSIX sh.
package ssh
