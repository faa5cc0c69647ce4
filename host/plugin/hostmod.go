package plugin

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sluice-gw/sluice/sdk/abi"
	"github.com/tetratelabs/wazero/api"
)

// instantiateHost registers sluice_host in this version's runtime.
func (v *version) instantiateHost(ctx context.Context) error {
	logger := v.p.log
	logFn := api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		level, ptr, n := int32(stack[0]), uint32(stack[1]), uint32(stack[2])
		truncated := false
		if n > abi.LogLimit {
			n, truncated = abi.LogLimit, true
		}
		b, ok := mod.Memory().Read(ptr, n)
		if !ok {
			// A panic here becomes the guest call's error: the instance is discarded.
			panic(fmt.Errorf("%s.%s: out of bounds read ptr=%d len=%d", abi.HostModule, abi.HostLog, ptr, n))
		}
		lv := slog.LevelInfo
		switch level {
		case abi.LevelDebug:
			lv = slog.LevelDebug
		case abi.LevelWarn:
			lv = slog.LevelWarn
		case abi.LevelError:
			lv = slog.LevelError
		}
		logger.Log(ctx, lv, string(b), "plugin_log", true, "truncated", truncated)
	})
	_, err := v.rt.NewHostModuleBuilder(abi.HostModule).
		NewFunctionBuilder().
		WithGoModuleFunction(logFn, sigHostLg.params, sigHostLg.results).
		WithParameterNames("level", "ptr", "len").
		Export(abi.HostLog).
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("host module: %w", err)
	}
	return nil
}
