package probe

import (
	"context"
	"fmt"
)

// probeTCP connects (and, with tls: implicit, completes a TLS handshake).
func (p *prober) probeTCP(ctx context.Context, a *attempt, t Target) error {
	c, err := p.open(ctx, a, targetEndpoint(t))
	if err != nil {
		return fmt.Errorf("tcp: %w", err)
	}
	return c.Close()
}
