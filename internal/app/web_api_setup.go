package app

import "context"

// setupWebAPI adds the API endpoints that the web interface's pages need
// beyond the capabilities' own: hourly mail-flow series for the sparklines
// on Now. (A user's own calendar feeds, GET /api/v1/oncall/feeds/mine, are
// the on-call API's, package internal/api/oncallapi.) List it after every capability and
// before "web".
func setupWebAPI(_ context.Context, env *Env) error {
	registerTrafficAPI(env)
	return nil
}
