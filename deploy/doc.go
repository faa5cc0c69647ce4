// Package deploy holds sluice's deployment artifacts and the tools and tests that build and
// check them: the container image builder, the Helm chart, the rendered manifests and the
// systemd unit. It is its own module so that its dependencies (the image and Helm libraries,
// the Kubernetes API types) never reach the gateway's go.mod or binary.
package deploy
