// Package binary checks the sluice binary that releases and images ship: version stamping,
// the linker's dead-code elimination and the size budget (the checks are its tests).
package binary
