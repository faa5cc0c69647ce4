package plugin

import (
	"fmt"
	"slices"

	"github.com/sluice-gw/sluice/sdk/abi"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// supportedVersions are the guest ABI versions this host runs.
var supportedVersions = []int32{abi.Version}

// The export signatures the ABI fixes.
var (
	sigVoid   = sig{}
	sigI32    = sig{results: []api.ValueType{api.ValueTypeI32}}
	sigI64    = sig{results: []api.ValueType{api.ValueTypeI64}}
	sigAlloc  = sig{params: []api.ValueType{api.ValueTypeI32}, results: []api.ValueType{api.ValueTypeI32}}
	sigHook   = sig{params: []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, results: []api.ValueType{api.ValueTypeI64}}
	sigHostLg = sig{params: []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}}
)

type sig struct{ params, results []api.ValueType }

func (s sig) String() string { return typesString(s.params) + " -> " + typesString(s.results) }

func typesString(ts []api.ValueType) string {
	out := "["
	for i, t := range ts {
		if i > 0 {
			out += " "
		}
		out += api.ValueTypeName(t)
	}
	return out + "]"
}

func (s sig) matches(d api.FunctionDefinition) bool {
	return slices.Equal(s.params, d.ParamTypes()) && slices.Equal(s.results, d.ResultTypes())
}

func checkSig(kind, name string, d api.FunctionDefinition, want sig) error {
	if want.matches(d) {
		return nil
	}
	got := sig{params: d.ParamTypes(), results: d.ResultTypes()}
	return fmt.Errorf("guest %s %q has signature %s, want %s", kind, name, got, want)
}

// validate checks exports, signatures and the import allow-list before any guest code runs.
func validate(cm wazero.CompiledModule) error {
	for _, d := range cm.ImportedFunctions() {
		mod, name, _ := d.Import()
		switch mod {
		case abi.WASIModule:
			// wazero's WASI host module provides these; an unknown name fails instantiation.
		case abi.HostModule:
			if name != abi.HostLog {
				return fmt.Errorf("guest imports %s.%s: not provided by this host (ABI v%d)", mod, name, abi.Version)
			}
			if err := checkSig("import", mod+"."+name, d, sigHostLg); err != nil {
				return err
			}
		default:
			return fmt.Errorf("guest imports %s.%s: host module %q is not in the allow-list", mod, name, mod)
		}
	}
	for _, m := range cm.ImportedMemories() {
		mod, name, _ := m.Import()
		return fmt.Errorf("guest imports memory %s.%s: memory imports are not allowed", mod, name)
	}
	if _, ok := cm.ExportedMemories()[abi.ExportMemory]; !ok {
		return fmt.Errorf("guest does not export %q", abi.ExportMemory)
	}
	ex := cm.ExportedFunctions()
	need := []struct {
		name string
		sig  sig
	}{{abi.ExportVersion, sigI32}, {abi.ExportAlloc, sigAlloc}}
	for _, n := range need {
		d, ok := ex[n.name]
		if !ok {
			return fmt.Errorf("guest does not export %s: not a sluice ABI v%d plugin", n.name, abi.Version)
		}
		if err := checkSig("export", n.name, d, n.sig); err != nil {
			return err
		}
	}
	if d, ok := ex[abi.ExportHooks]; ok {
		if err := checkSig("export", abi.ExportHooks, d, sigI64); err != nil {
			return err
		}
	}
	if d, ok := ex[abi.ExportFeatures]; ok {
		if err := checkSig("export", abi.ExportFeatures, d, sigI64); err != nil {
			return err
		}
	}
	if d, ok := ex[abi.ExportInitialize]; ok {
		if err := checkSig("export", abi.ExportInitialize, d, sigVoid); err != nil {
			return err
		}
	}
	for _, h := range abi.Hooks {
		if d, ok := ex[abi.ExportName(h)]; ok {
			if err := checkSig("export", abi.ExportName(h), d, sigHook); err != nil {
				return err
			}
		}
	}
	return nil
}
