package logparse

// Arena hands out the events of the frequent kinds from blocks, one
// allocation per arenaBlock events instead of one per line, for a reader
// that parses many lines (an import). An event keeps its block alive: a
// caller that keeps events for long should keep copies. The nil *Arena
// allocates every event on its own. An Arena is not safe for concurrent
// use; its events may be used anywhere.
//
// With Recycle, the blocks are used again: Retired hands out the blocks
// filled since its last call, and once every event of them is no longer
// used, calling the functions it returned gives them back to the Arena.
type Arena struct {
	deliverys   slab[Delivery]
	postgreys   slab[PostgreyResult]
	connects    slab[SmtpdConnect]
	disconnects slab[SmtpdDisconnect]
	queueds     slab[QmgrQueued]
	messageIDs  slab[CleanupMessageID]
	removeds    slab[QmgrRemoved]
	clients     slab[SmtpdClient]
	notices     slab[Notice]
	rejects     slab[Reject]
	lmtps       slab[DovecotLMTPDelivery]
	amaviss     slab[AmavisResult]
	tlss        slab[TLSConnection]
	logins      slab[DovecotLogin]
	logouts     slab[DovecotLogout]
	unknowns    slab[Unknown]
	commands    slab[CommandCount]
	recycle     bool
	retired     []func()
}

// slab is the current block of one kind of event.
type slab[T any] struct {
	s     []T // what is left of block
	block []T
	free  chan []T // blocks given back (Recycle); nil: none
}

// recycledBlocks is how many blocks of a kind wait to be used again.
const recycledBlocks = 64

// Recycle makes a the Arena of an importer that gives the blocks back
// (Retired).
func (a *Arena) Recycle() { a.recycle = true }

// Retired returns a function per block filled since the last call, which
// gives the block back to a: call it once none of the block's events (nor
// the command counts of a disconnect) is used any more; in any order, from
// any goroutine. Nil without Recycle.
func (a *Arena) Retired() []func() {
	r := a.retired
	a.retired = nil
	return r
}

// next starts a fresh block of sl of n, and retires the full one.
func next[T any](a *Arena, sl *slab[T], n int) {
	if a.recycle {
		if sl.free == nil {
			sl.free = make(chan []T, recycledBlocks)
		}
		if old := sl.block; old != nil {
			free := sl.free
			a.retired = append(a.retired, func() {
				select {
				case free <- old:
				default: // enough waiting: collected
				}
			})
		}
		select {
		case b := <-sl.free:
			sl.block, sl.s = b, b
			return
		default:
		}
	}
	sl.block = make([]T, n)
	sl.s = sl.block
}

// commandCounts returns an empty slice with room for n counts.
func (a *Arena) commandCounts(n int) []CommandCount {
	if a == nil || n > arenaBlock {
		return make([]CommandCount, 0, n)
	}
	if len(a.commands.s) < n {
		next(a, &a.commands, 4*arenaBlock)
	}
	s := a.commands.s[:0:n] // appending past n copies, never into the next event's counts
	a.commands.s = a.commands.s[n:]
	return s
}

// arenaBlock is the number of events of one kind per allocation.
const arenaBlock = 64

func put[T any](a *Arena, sl *slab[T], v T) *T {
	if len(sl.s) == 0 {
		next(a, sl, arenaBlock)
	}
	p := &sl.s[0]
	*p = v
	sl.s = sl.s[1:]
	return p
}

func (a *Arena) delivery(v Delivery) *Delivery {
	if a == nil {
		p := new(Delivery)
		*p = v
		return p
	}
	return put(a, &a.deliverys, v)
}

func (a *Arena) postgrey(v PostgreyResult) *PostgreyResult {
	if a == nil {
		p := new(PostgreyResult)
		*p = v
		return p
	}
	return put(a, &a.postgreys, v)
}

func (a *Arena) connect(v SmtpdConnect) *SmtpdConnect {
	if a == nil {
		p := new(SmtpdConnect)
		*p = v
		return p
	}
	return put(a, &a.connects, v)
}

func (a *Arena) disconnect(v SmtpdDisconnect) *SmtpdDisconnect {
	if a == nil {
		p := new(SmtpdDisconnect)
		*p = v
		return p
	}
	return put(a, &a.disconnects, v)
}

func (a *Arena) queued(v QmgrQueued) *QmgrQueued {
	if a == nil {
		p := new(QmgrQueued)
		*p = v
		return p
	}
	return put(a, &a.queueds, v)
}

func (a *Arena) messageID(v CleanupMessageID) *CleanupMessageID {
	if a == nil {
		p := new(CleanupMessageID)
		*p = v
		return p
	}
	return put(a, &a.messageIDs, v)
}

func (a *Arena) removed(v QmgrRemoved) *QmgrRemoved {
	if a == nil {
		p := new(QmgrRemoved)
		*p = v
		return p
	}
	return put(a, &a.removeds, v)
}

func (a *Arena) client(v SmtpdClient) *SmtpdClient {
	if a == nil {
		p := new(SmtpdClient)
		*p = v
		return p
	}
	return put(a, &a.clients, v)
}

func (a *Arena) notice(v Notice) *Notice {
	if a == nil {
		p := new(Notice)
		*p = v
		return p
	}
	return put(a, &a.notices, v)
}

func (a *Arena) reject(v Reject) *Reject {
	if a == nil {
		p := new(Reject)
		*p = v
		return p
	}
	return put(a, &a.rejects, v)
}

func (a *Arena) lmtp(v DovecotLMTPDelivery) *DovecotLMTPDelivery {
	if a == nil {
		p := new(DovecotLMTPDelivery)
		*p = v
		return p
	}
	return put(a, &a.lmtps, v)
}

func (a *Arena) amavis(v AmavisResult) *AmavisResult {
	if a == nil {
		p := new(AmavisResult)
		*p = v
		return p
	}
	return put(a, &a.amaviss, v)
}

func (a *Arena) tls(v TLSConnection) *TLSConnection {
	if a == nil {
		p := new(TLSConnection)
		*p = v
		return p
	}
	return put(a, &a.tlss, v)
}

func (a *Arena) login(v DovecotLogin) *DovecotLogin {
	if a == nil {
		p := new(DovecotLogin)
		*p = v
		return p
	}
	return put(a, &a.logins, v)
}

func (a *Arena) logout(v DovecotLogout) *DovecotLogout {
	if a == nil {
		p := new(DovecotLogout)
		*p = v
		return p
	}
	return put(a, &a.logouts, v)
}

func (a *Arena) unknown(v Unknown) *Unknown {
	if a == nil {
		p := new(Unknown)
		*p = v
		return p
	}
	return put(a, &a.unknowns, v)
}
