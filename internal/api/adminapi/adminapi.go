// Package adminapi serves the running service's administration: POST
// /api/v1/admin/reload (admin) reads the configuration file again and
// applies what can change without a restart, as SIGHUP does
// (docs/configuration.md, "Reloading"; internal/reload). The answer is the
// reload's report: the keys that took effect, what needs a restart, the
// file's warnings; a file that is refused is the error envelope with code
// invalid_configuration and the FILE:LINE of each problem, and nothing
// changes.
package adminapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/reload"
	"github.com/uni-mail/postvakt/internal/server"
)

// Options are what the admin API serves from.
type Options struct {
	// Reload runs one reload, by the named principal (reload.Manager).
	Reload func(ctx context.Context, by string) (reload.Report, error)
}

// Reload is the answer of POST /api/v1/admin/reload.
type Reload = reload.Report

// Register registers the admin API's routes on s.
func Register(s *server.Server, o Options) {
	s.Handle("POST /api/v1/admin/reload", auth.RoleAdmin, func(w http.ResponseWriter, r *http.Request) error {
		by := "api"
		if p, ok := auth.FromContext(r.Context()); ok {
			by = "api:" + p.Name
		}
		rep, err := o.Reload(r.Context(), by)
		switch {
		case errors.Is(err, reload.ErrNoFile):
			return server.Conflict(err.Error())
		case errors.Is(err, reload.ErrRejected):
			_ = s.Audit(r, "config.reload", "", "rejected")
			return &server.Error{Status: http.StatusUnprocessableEntity, Code: server.CodeInvalidConfig, Message: err.Error()}
		case err != nil:
			return err
		}
		if err := s.Audit(r, "config.reload", rep.File, rep.Summary()); err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, rep)
		return nil
	})
}
