package ssh

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// uploadScript receives the file on stdin into a temporary name beside the
// destination (so the final rename stays on one filesystem and is atomic),
// checks its sha256 on the remote side, then sets the mode, syncs it and
// renames it into place (the data is on disk before the name points at it). Any failure removes the temporary file and leaves the old
// destination untouched. It runs as one exec as the login user (never under
// sudo): releases are staged in a folder the login user owns and installed
// by an exact privileged command later (steps/privileged.go).
const uploadScript = `t=$1 d=$2 m=$3 want=$4
trap 'rm -f "$t"' EXIT
umask 077
cat >"$t" || exit 101
if command -v sha256sum >/dev/null 2>&1; then got=$(sha256sum <"$t")
elif command -v shasum >/dev/null 2>&1; then got=$(shasum -a 256 <"$t")
else echo "etcdplay upload: neither sha256sum nor shasum on the host" >&2; exit 102; fi
got=${got%% *}
if [ "$got" != "$want" ]; then echo "etcdplay upload: sha256 mismatch on the host: got $got, sent $want" >&2; exit 103; fi
chmod "$m" "$t" || exit 104
sync "$t" 2>/dev/null || sync
mv -f "$t" "$d" || exit 105`

// uploadStreamHook lets tests corrupt the stream after the local sum is taken.
var uploadStreamHook func(io.Reader) io.Reader

// Upload streams localPath to remotePath atomically: temporary name
// remotePath.tmp.<random>, sha256 verified on the host, mode applied, then
// renamed over remotePath. mode 0 keeps the local file's permission bits.
// The file is never held in memory: it is hashed locally in one pass and
// streamed in a second.
func (c *Client) Upload(ctx context.Context, localPath, remotePath string, mode fs.FileMode) error {
	f, err := os.Open(localPath)
	if err != nil {
		return fmt.Errorf("upload to %s: %w", c.t, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("upload to %s: %w", c.t, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("upload to %s: %s is not a regular file", c.t, localPath)
	}
	if mode == 0 {
		mode = st.Mode().Perm()
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("upload to %s: hash %s: %w", c.t, localPath, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("upload to %s: %w", c.t, err)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := remotePath + ".tmp." + hex.EncodeToString(rnd[:])
	var stream io.Reader = f
	if uploadStreamHook != nil {
		stream = uploadStreamHook(stream)
	}
	res, err := c.Run(ctx, Command{
		Argv:  []string{"sh", "-c", uploadScript, "etcdplay-upload", tmp, remotePath, fmt.Sprintf("%04o", mode.Perm()), sum},
		Stdin: struct{ io.Reader }{stream}, // hide *os.File's WriterTo: x/crypto copies in window-sized chunks either way
	})
	if err != nil {
		if ctx.Err() != nil {
			// The killed shell cannot run its trap; remove the partial
			// temporary file with a short context of our own.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			c.Run(cctx, Command{Argv: []string{"rm", "-f", "--", tmp}})
			cancel()
		}
		return fmt.Errorf("upload %s to %s:%s: %w", localPath, c.t, remotePath, err)
	}
	if res.ExitStatus != 0 {
		return fmt.Errorf("upload %s to %s:%s failed (exit %d): %s", localPath, c.t, remotePath, res.ExitStatus,
			strings.TrimSpace(string(res.Stderr)))
	}
	return nil
}
