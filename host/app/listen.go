package app

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/sluice-gw/sluice/host/clientconn"
	"github.com/sluice-gw/sluice/host/config"
)

// listeners are the serving client, admin and metrics servers (admin and metrics nil when
// off); errc receives the first one that stops on its own.
type listeners struct {
	client, admin, metrics       *http.Server
	addr, adminAddr, metricsAddr string
	errc                         chan error
}

// listen opens the client listener and, when configured, the admin and metrics ones, and
// starts serving them. On an error nothing is left open.
func (a *App) listen(cfg *config.Config) (*listeners, error) {
	log := a.log
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return nil, fmt.Errorf("serve: listen %s: %w", cfg.Server.Listen, err)
	}
	ls := &listeners{addr: ln.Addr().String(), errc: make(chan error, 3)}
	// Slow clients: headers are bounded by ReadHeaderTimeout, the body and each write by
	// clientconn's deadlines (not ReadTimeout/WriteTimeout, which would bound a whole request
	// and so cut long streams), and open connections by the listener's cap.
	ln = clientconn.Limit(ln, cfg.Server.MaxConnections)
	ls.client = &http.Server{
		Handler: clientconn.Deadlines{Body: cfg.Server.ReadBodyTimeout.D(), Write: cfg.Server.WriteTimeout.D()}.
			Wrap(http.HandlerFunc(a.serveClient)),
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout.D(),
		IdleTimeout:       cfg.Server.IdleTimeout.D(),
		MaxHeaderBytes:    int(cfg.Server.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() { ls.errc <- ls.client.Serve(ln) }()

	if al := cfg.Server.AdminListen; al != "" && al != "off" {
		aln, err := net.Listen("tcp", al)
		if err != nil {
			_ = ls.client.Close()
			return nil, fmt.Errorf("serve: admin listen %s: %w", al, err)
		}
		ls.adminAddr = aln.Addr().String()
		a.adminBound = ls.adminAddr
		a.guard.Store(newAdminGuard(a.adminHandler(), cfg.Server, ls.adminAddr))
		ls.admin = &http.Server{Handler: http.HandlerFunc(a.serveAdmin), ReadHeaderTimeout: 10 * time.Second}
		go func() { ls.errc <- ls.admin.Serve(aln) }()
		if !config.IsLoopbackAddr(al) {
			log.Warn("the admin API listens beyond loopback; it requires server.admin_token, and only the Host names in server.admin_hosts (or the bound address) are answered", "admin_listen", al)
		}
	}
	if ml := cfg.Server.MetricsListen; ml != "" && ml != "off" {
		mln, err := net.Listen("tcp", ml)
		if err != nil {
			_ = ls.client.Close()
			if ls.admin != nil {
				_ = ls.admin.Close()
			}
			return nil, fmt.Errorf("serve: metrics listen %s: %w", ml, err)
		}
		ls.metricsAddr = mln.Addr().String()
		ls.metrics = &http.Server{Handler: metricsOnly(a.tel.MetricsHandler()), ReadHeaderTimeout: 10 * time.Second}
		go func() { ls.errc <- ls.metrics.Serve(mln) }()
		if !config.IsLoopbackAddr(ml) {
			log.Warn("the metrics listener binds beyond loopback; it serves /metrics without a token", "metrics_listen", ml)
		}
	}
	return ls, nil
}
