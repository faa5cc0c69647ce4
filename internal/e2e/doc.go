// Package e2e runs the sluice binary as a real process on real sockets against fake providers,
// driven by Go HTTP clients and by the official OpenAI and Anthropic Node SDKs (node/).
package e2e
