package app

import (
	"context"

	"github.com/uni-mail/postvakt/internal/api/accessapi"
	"github.com/uni-mail/postvakt/internal/api/apispec"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/runbooks"
)

// setupAccess registers the access API: whoami, the API tokens, the audit
// log and the runbooks' index, over the access store; and the API's
// OpenAPI description (internal/api/apispec).
func setupAccess(_ context.Context, env *Env) error {
	lib, err := runbooks.Embedded()
	if err != nil {
		return err
	}
	access := accessstore.New(env.DB)
	accessapi.Register(env.Server, accessapi.Options{Tokens: access, Audit: access, Runbooks: lib,
		BaseURL: env.Config.HTTP.BaseURL, Now: env.Now})
	apispec.Register(env.Server)
	return nil
}
