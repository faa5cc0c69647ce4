// Package config owns sluice's configuration: the TOML schema, strict decoding (an unknown key
// is an error naming its file and line), ${ENV} and ${ENV:-default} expansion, defaults for the
// built-in providers, validation that lists every problem at once, and the embedded default
// configuration that serves with nothing but the environment.
package config
