// Package config owns sluice's configuration: the TOML schema, strict decoding (an unknown key
// is an error naming its file and line), ${ENV} and ${ENV:-default} expansion, every default and
// range (defaults.go, the one table that host/balance and the stores use too), validation that
// lists every problem at once, and the embedded default configuration that serves with nothing
// but the environment.
package config
