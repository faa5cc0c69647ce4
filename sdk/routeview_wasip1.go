//go:build wasip1

package sdk

//go:wasmexport sluice_features
func sluiceFeatures() uint64 { return features() }
