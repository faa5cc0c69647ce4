package balance

import "github.com/sluice-gw/sluice/host/config"

// FromConfig is the Config of the router rc declares (or, through config.ImplicitRouter,
// implies), with the settings host/config validated and defaulted. The caller adds the
// targets, and the orderer, probe and registry when it has them.
func FromConfig(rc *config.Router) Config {
	return Config{
		Name:     rc.Name,
		Strategy: Strategy(rc.Strategy),
		Retries: Retries{Attempts: rc.Retries.Attempts, Backoff: rc.Retries.Backoff.D(), MaxBackoff: rc.Retries.MaxBackoff.D(),
			Budget: rc.Retries.Budget, AfterSend: rc.Retries.AfterSend},
		Health: Health{Window: rc.Health.Window.D(), Threshold: rc.Health.Threshold, MinRequests: rc.Health.MinRequests,
			Cooldown: rc.Health.Cooldown.D(), MaxCooldown: rc.Health.MaxCooldown.D()},
		DefaultRTT:       rc.DefaultRTT.D(),
		Decay:            rc.Decay.D(),
		Timeout:          rc.Timeout.D(),
		AttemptTimeout:   rc.AttemptTimeout.D(),
		FallbackStrategy: Strategy(rc.FallbackStrategy),
	}
}
