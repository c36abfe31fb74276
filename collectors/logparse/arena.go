package logparse

// Arena hands out the events of the frequent kinds from blocks, one
// allocation per arenaBlock events instead of one per line, for a reader
// that parses many lines (an import). An event keeps its block alive: a
// caller that keeps events for long should keep copies. The nil *Arena
// allocates every event on its own. An Arena is not safe for concurrent
// use; its events may be used anywhere.
type Arena struct {
	deliverys   []Delivery
	postgreys   []PostgreyResult
	connects    []SmtpdConnect
	disconnects []SmtpdDisconnect
	queueds     []QmgrQueued
	messageIDs  []CleanupMessageID
	removeds    []QmgrRemoved
	clients     []SmtpdClient
	notices     []Notice
	rejects     []Reject
	lmtps       []DovecotLMTPDelivery
	amaviss     []AmavisResult
	tlss        []TLSConnection
	logins      []DovecotLogin
	logouts     []DovecotLogout
	unknowns    []Unknown
	commands    []CommandCount
}

// commandCounts returns an empty slice with room for n counts.
func (a *Arena) commandCounts(n int) []CommandCount {
	if a == nil || n > arenaBlock {
		return make([]CommandCount, 0, n)
	}
	if len(a.commands) < n {
		a.commands = make([]CommandCount, 4*arenaBlock)
	}
	s := a.commands[:0:n] // appending past n copies, never into the next event's counts
	a.commands = a.commands[n:]
	return s
}

// arenaBlock is the number of events of one kind per allocation.
const arenaBlock = 64

func put[T any](s *[]T, v T) *T {
	if len(*s) == 0 {
		*s = make([]T, arenaBlock)
	}
	p := &(*s)[0]
	*p = v
	*s = (*s)[1:]
	return p
}

func (a *Arena) delivery(v Delivery) *Delivery {
	if a == nil {
		p := new(Delivery)
		*p = v
		return p
	}
	return put(&a.deliverys, v)
}

func (a *Arena) postgrey(v PostgreyResult) *PostgreyResult {
	if a == nil {
		p := new(PostgreyResult)
		*p = v
		return p
	}
	return put(&a.postgreys, v)
}

func (a *Arena) connect(v SmtpdConnect) *SmtpdConnect {
	if a == nil {
		p := new(SmtpdConnect)
		*p = v
		return p
	}
	return put(&a.connects, v)
}

func (a *Arena) disconnect(v SmtpdDisconnect) *SmtpdDisconnect {
	if a == nil {
		p := new(SmtpdDisconnect)
		*p = v
		return p
	}
	return put(&a.disconnects, v)
}

func (a *Arena) queued(v QmgrQueued) *QmgrQueued {
	if a == nil {
		p := new(QmgrQueued)
		*p = v
		return p
	}
	return put(&a.queueds, v)
}

func (a *Arena) messageID(v CleanupMessageID) *CleanupMessageID {
	if a == nil {
		p := new(CleanupMessageID)
		*p = v
		return p
	}
	return put(&a.messageIDs, v)
}

func (a *Arena) removed(v QmgrRemoved) *QmgrRemoved {
	if a == nil {
		p := new(QmgrRemoved)
		*p = v
		return p
	}
	return put(&a.removeds, v)
}

func (a *Arena) client(v SmtpdClient) *SmtpdClient {
	if a == nil {
		p := new(SmtpdClient)
		*p = v
		return p
	}
	return put(&a.clients, v)
}

func (a *Arena) notice(v Notice) *Notice {
	if a == nil {
		p := new(Notice)
		*p = v
		return p
	}
	return put(&a.notices, v)
}

func (a *Arena) reject(v Reject) *Reject {
	if a == nil {
		p := new(Reject)
		*p = v
		return p
	}
	return put(&a.rejects, v)
}

func (a *Arena) lmtp(v DovecotLMTPDelivery) *DovecotLMTPDelivery {
	if a == nil {
		p := new(DovecotLMTPDelivery)
		*p = v
		return p
	}
	return put(&a.lmtps, v)
}

func (a *Arena) amavis(v AmavisResult) *AmavisResult {
	if a == nil {
		p := new(AmavisResult)
		*p = v
		return p
	}
	return put(&a.amaviss, v)
}

func (a *Arena) tls(v TLSConnection) *TLSConnection {
	if a == nil {
		p := new(TLSConnection)
		*p = v
		return p
	}
	return put(&a.tlss, v)
}

func (a *Arena) login(v DovecotLogin) *DovecotLogin {
	if a == nil {
		p := new(DovecotLogin)
		*p = v
		return p
	}
	return put(&a.logins, v)
}

func (a *Arena) logout(v DovecotLogout) *DovecotLogout {
	if a == nil {
		p := new(DovecotLogout)
		*p = v
		return p
	}
	return put(&a.logouts, v)
}

func (a *Arena) unknown(v Unknown) *Unknown {
	if a == nil {
		p := new(Unknown)
		*p = v
		return p
	}
	return put(&a.unknowns, v)
}
