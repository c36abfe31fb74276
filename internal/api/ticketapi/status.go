package ticketapi

// registerStatus mounts the public status page, its history and its Atom
// feed (RFC 4287): GET /status, GET /status/history and GET
// /status/feed.atom, without a token, showing
// the public notices only (docs/tickets.md, "Status page and feed"). The notice
// service renders both (notice.Service.StatusHandler).
func (a *API) registerStatus() {
	if a.o.Notices == nil {
		return
	}
	h := a.o.Notices.StatusHandler()
	a.srv.Mount("GET /status", h)
	a.srv.Mount("GET /status/feed.atom", h)
	a.srv.Mount("GET /status/history", h)
}
