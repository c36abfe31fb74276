package engine

import (
	"path/filepath"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/membudget"
	"github.com/uni-mail/postvakt/engine/spool"
)

// Resources are the budgets the engine shares with the rest of the service
// (docs/resources.md): the one gate for password
// hashes (SMTP AUTH here, the web sign-in in internal/webauth), the memory
// budget for message bytes held in memory (DATA while it is small, the
// message assembled for the commit, content scanning's scratch space, the
// quarantine, the relay queue's delivery), and the spool where message
// bytes beyond the spool threshold wait on disk.
type Resources struct {
	Hasher *directory.Hasher
	Memory *membudget.Budget
	Spool  *spool.Spool
}

// NewResources builds the budgets of cfg.Limits; the spool lives in
// dataDir/spool ("" uses the system's temporary directory).
func NewResources(cfg Config, dataDir string) (*Resources, error) {
	l := cfg.Limits
	// An eighth is kept for small messages (up to 1 MiB in memory: a
	// message of about 340 kB committed), so that they are not held up by
	// large ones waiting for room.
	mem := membudget.NewSplit(l.MessageMemory, l.MessageMemory/8, 1<<20)
	dir := ""
	if dataDir != "" {
		dir = filepath.Join(dataDir, "spool")
	}
	sp, err := spool.New(dir, l.SpoolThreshold, mem)
	if err != nil {
		return nil, err
	}
	return &Resources{
		Hasher: directory.NewHasher(directory.HasherOptions{Memory: l.PasswordHashMemory, Wait: l.PasswordHashWait}),
		Memory: mem,
		Spool:  sp,
	}, nil
}
