package oncallapi

// The Alertmanager webhook receiver (oncall/alertmanager) at its route: it
// checks its own bearer token (oncall.alertmanager.token) and answers in
// the same error envelope as the rest of the API.
func (a *API) registerAlertmanager() {
	if a.o.Alertmanager != nil {
		a.srv.Mount("POST /api/v1/alertmanager", a.o.Alertmanager)
	}
}

// The generic webhook intake (oncall/integration) at its route: each
// integration checks its own bearer token (oncall.integrations[].token_sha256).
func (a *API) registerIntegrations() {
	if a.o.Integrations != nil {
		a.srv.Mount("POST /api/v1/integrations/{name}/events", a.o.Integrations)
	}
}
