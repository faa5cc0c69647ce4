// Package systemd holds the systemd unit that runs sluice on a host (sluice.service) and the
// test that checks it.
package systemd
