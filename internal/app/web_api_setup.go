package app

import "context"

// setupWebAPI adds the API endpoints that the web interface's pages need
// beyond the capabilities' own: hourly mail-flow series for the sparklines on Now, and a user's own
// calendar feeds. List it after every capability and before "web".
func setupWebAPI(_ context.Context, env *Env) error {
	registerTrafficAPI(env)
	registerOwnFeedsAPI(env)
	return nil
}
